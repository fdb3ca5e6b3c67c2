package io.boxlite.disk.qcow2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** One L2 table: the raw 64-bit entries of a cluster. */
final class L2Table extends CachedTable {
    final long[] entries;

    L2Table(long offset, long[] entries) {
        super(offset);
        this.entries = entries;
    }

    static L2Table decode(long offset, ByteBuffer cluster) {
        ByteBuffer b = cluster.duplicate().order(ByteOrder.BIG_ENDIAN);
        long[] entries = new long[b.remaining() / 8];
        b.asLongBuffer().get(entries);
        return new L2Table(offset, entries);
    }

    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(entries.length * 8).order(ByteOrder.BIG_ENDIAN);
        b.asLongBuffer().put(entries);
        return b;
    }
}
