package io.boxlite.vmm.devices.virtio.block;

import java.util.concurrent.atomic.LongAdder;

/** Counters of one virtio-blk device; cheap to update from many request threads. */
public final class BlockMetrics {
    final LongAdder reads = new LongAdder();
    final LongAdder writes = new LongAdder();
    final LongAdder flushes = new LongAdder();
    final LongAdder discards = new LongAdder();
    final LongAdder writeZeroes = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder dataBuffers = new LongAdder();
    final LongAdder invalidRequests = new LongAdder();
    final LongAdder ioErrors = new LongAdder();

    public long reads() {
        return reads.sum();
    }

    public long writes() {
        return writes.sum();
    }

    public long flushes() {
        return flushes.sum();
    }

    public long discards() {
        return discards.sum();
    }

    public long writeZeroes() {
        return writeZeroes.sum();
    }

    public long bytesRead() {
        return bytesRead.sum();
    }

    public long bytesWritten() {
        return bytesWritten.sum();
    }

    /** Guest buffers the reads and writes were scattered over (pages, usually): I/O calls made. */
    public long dataBuffers() {
        return dataBuffers.sum();
    }

    /** Requests refused for what the guest sent (bad chain, range, type, flags…). */
    public long invalidRequests() {
        return invalidRequests.sum();
    }

    /** Requests that failed in the back end. */
    public long ioErrors() {
        return ioErrors.sum();
    }

    @Override
    public String toString() {
        return "BlockMetrics[reads=" + reads() + ", writes=" + writes() + ", flushes=" + flushes() + ", discards=" + discards()
                + ", writeZeroes=" + writeZeroes() + ", bytesRead=" + bytesRead() + ", bytesWritten=" + bytesWritten()
                + ", dataBuffers=" + dataBuffers() + ", invalid=" + invalidRequests() + ", ioErrors=" + ioErrors() + "]";
    }
}
