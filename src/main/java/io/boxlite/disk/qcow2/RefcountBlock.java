package io.boxlite.disk.qcow2;

import java.nio.ByteBuffer;

/** One refcount block: {@code clusterSize * 8 / refcountBits} packed big-endian counters. */
final class RefcountBlock extends CachedTable {
    final byte[] data;

    RefcountBlock(long offset, byte[] data) {
        super(offset);
        this.data = data;
    }

    /** Entry {@code index} of width {@code bits} (1..64); sub-byte entries start at bit 0 (LSB). */
    long get(int index, int bits) {
        if (bits >= 8) {
            int bytes = bits / 8;
            int at = index * bytes;
            long v = 0;
            for (int i = 0; i < bytes; i++) {
                v = (v << 8) | (data[at + i] & 0xff);
            }
            return v;
        }
        int bit = index * bits;
        return (data[bit / 8] >>> (bit % 8)) & ((1 << bits) - 1);
    }

    void set(int index, int bits, long value) {
        if (bits >= 8) {
            int bytes = bits / 8;
            int at = index * bytes;
            long v = value;
            for (int i = bytes - 1; i >= 0; i--) {
                data[at + i] = (byte) v;
                v >>>= 8;
            }
            return;
        }
        int bit = index * bits;
        int mask = ((1 << bits) - 1) << (bit % 8);
        data[bit / 8] = (byte) ((data[bit / 8] & ~mask) | (((int) value << (bit % 8)) & mask));
    }

    ByteBuffer encode() {
        return ByteBuffer.wrap(data.clone());
    }
}
