package io.boxlite.disk.qcow2;

import java.nio.ByteBuffer;

/** A read-only backing image: raw file or qcow2. */
interface Backing extends AutoCloseable {
    /** Bytes the backing image provides; reads beyond read as zeros. */
    long size();

    /** Fills {@code dst} from {@code offset}; {@code offset + dst.remaining() <= size()}. */
    void read(long offset, ByteBuffer dst);

    @Override
    void close();
}
