package io.boxlite.disk;

import java.nio.ByteBuffer;

/**
 * A virtual disk as the virtio-blk device sees it: a fixed number of bytes that can be read,
 * written, flushed and discarded. Implemented by raw files and by the qcow2 engine.
 *
 * <p>Implementations are thread-safe: a device keeps several requests in flight. Offsets and
 * lengths are validated against {@link #size()}; an out-of-range request throws
 * {@link IllegalArgumentException} and changes nothing. I/O failures throw
 * {@link io.boxlite.StorageException}.
 */
public interface DiskImage extends AutoCloseable {
    /** Virtual size in bytes (what the guest sees), a multiple of 512. */
    long size();

    /** Whether writes, discards and write-zeroes are refused. */
    boolean readOnly();

    /** Fills {@code dst} from its position to its limit with bytes from {@code offset}. */
    void read(long offset, ByteBuffer dst);

    /** Writes {@code src} from its position to its limit at {@code offset}. */
    void write(long offset, ByteBuffer src);

    /**
     * Fills {@code dsts} in order from {@code offset}: one request scattered over several buffers
     * (a guest's pages). The default reads them one by one; a back end may use one system call.
     */
    default void readv(long offset, ByteBuffer[] dsts) {
        long pos = offset;
        for (ByteBuffer b : dsts) {
            int n = b.remaining();
            read(pos, b);
            pos += n;
        }
    }

    /** Writes {@code srcs} in order at {@code offset}, the gathering twin of {@link #readv}. */
    default void writev(long offset, ByteBuffer[] srcs) {
        long pos = offset;
        for (ByteBuffer b : srcs) {
            int n = b.remaining();
            write(pos, b);
            pos += n;
        }
    }

    /** Makes every completed write durable (the guest's flush / FUA). */
    void flush();

    /** The guest no longer needs these bytes: may deallocate; later reads return zeros or old data. */
    void discard(long offset, long length);

    /** Makes the range read as zeros; with {@code mayUnmap} the space may be deallocated. */
    void writeZeroes(long offset, long length, boolean mayUnmap);

    /** Flushes, then releases files and buffers; idempotent. */
    @Override
    void close();
}
