package io.boxlite.vmm.devices.virtio.block;

import io.boxlite.InvalidStateException;
import io.boxlite.disk.DiskImage;
import io.boxlite.vmm.devices.virtio.Features;
import io.boxlite.vmm.devices.virtio.Interrupt;
import io.boxlite.vmm.devices.virtio.VirtioDevice;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.devices.virtio.VirtqueueException;
import io.boxlite.vmm.devices.virtio.DescriptorChain;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * virtio-blk (device type 2) over a {@link DiskImage}: read, write, flush, get-id, discard and
 * write-zeroes, read-only disks, one request queue with many requests in flight.
 *
 * <p>Threads: the transport's notifying thread (the vhost-user kick loop, the KVM engine's
 * ioeventfd loop or a vCPU) pops the available chains itself, which costs no blocking, and hands
 * each to a small pool of platform I/O threads. A request blocks in the kernel for as long as the
 * disk takes, so it runs on a platform thread, never on a virtual one (docs/threading.md); and
 * with no dispatcher in between, a request costs one thread wake-up on our side, as in QEMU's
 * own virtio-blk (docs/virtio.md has the measurement). An I/O thread parses the chain
 * ({@link BlockRequest#parse}), runs it against the disk, writes the data, then the status byte
 * last, and publishes the used entry under the queue's lock. A malformed request gets an error
 * status (or, with no status byte, a used entry of length 0); a corrupt ring asks the transport
 * for a reset. I/O threads are never interrupted, since an interrupt would close a
 * {@code FileChannel} under the disk.
 *
 * {@snippet :
 * BlockDevice blk = new BlockDevice(RawDiskImage.open(path, false), "boxlite-root");
 * }
 */
public final class BlockDevice implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(BlockDevice.class.getName());

    public static final int TYPE = 2;
    public static final int QUEUE_SIZE = 256;

    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;

    static final int MAX_DISCARD_SECTORS = 128 * 1024;  // 64 MiB per segment: bounds the zeros one request writes
    static final int MAX_DISCARD_SEG = 8;
    static final long RESET_WAIT_SECONDS = 10;
    /** Requests run at once: a deep guest queue keeps a real disk busy; idle threads exit. */
    static final int IO_THREADS = 16;
    private static final long IO_THREAD_IDLE_SECONDS = 30;

    private final DiskImage disk;
    private final byte[] id;
    private final Features features;
    private final BlockConfig config;
    private final BlockMetrics metrics = new BlockMetrics();
    private Running running;

    /**
     * @param disk   the back end; a {@linkplain DiskImage#readOnly() read-only} disk is offered with VIRTIO_BLK_F_RO
     * @param serial what GET_ID returns (at most 20 bytes of ASCII; longer is cut)
     */
    public BlockDevice(DiskImage disk, String serial) {
        this.disk = Objects.requireNonNull(disk);
        byte[] s = serial.getBytes(StandardCharsets.US_ASCII);
        this.id = Arrays.copyOf(s, BlockRequest.ID_BYTES); // zero-padded: the spec's "NUL-terminated if shorter"
        long f = VirtioFeatures.COMMON | VirtioFeatures.bit(F_SEG_MAX) | VirtioFeatures.bit(F_BLK_SIZE) | VirtioFeatures.bit(F_FLUSH);
        f |= disk.readOnly() ? VirtioFeatures.bit(F_RO) : VirtioFeatures.bit(F_DISCARD) | VirtioFeatures.bit(F_WRITE_ZEROES);
        this.features = new Features("virtio-blk", f);
        this.config = new BlockConfig(disk.size() / BlockRequest.SECTOR, QUEUE_SIZE - 2, BlockRequest.SECTOR,
                MAX_DISCARD_SECTORS, MAX_DISCARD_SEG, 8, MAX_DISCARD_SECTORS, MAX_DISCARD_SEG, true);
    }

    public BlockMetrics metrics() {
        return metrics;
    }

    public BlockConfig config() {
        return config;
    }

    @Override
    public int deviceType() {
        return TYPE;
    }

    @Override
    public long availFeatures() {
        return features.available();
    }

    @Override
    public long ackedFeatures() {
        return features.acked();
    }

    @Override
    public void ackFeatures(long f) {
        features.ack(f);
    }

    @Override
    public List<Integer> queueMaxSizes() {
        return List.of(QUEUE_SIZE);
    }

    @Override
    public int configSize() {
        return BlockConfig.SIZE;
    }

    @Override
    public void readConfig(long offset, byte[] data) {
        byte[] c = config.encode();
        for (int i = 0; i < data.length; i++) {
            long at = offset + i;
            data[i] = at >= 0 && at < c.length ? c[(int) at] : 0;
        }
    }

    @Override
    public void writeConfig(long offset, byte[] data) {
        LOG.log(Level.DEBUG, "virtio-blk: driver wrote {0} bytes of read-only config at {1}; ignored", data.length, offset);
    }

    @Override
    public synchronized void activate(GuestMemory memory, List<Virtqueue> queues, Interrupt interrupt) {
        if (running != null) {
            throw new InvalidStateException("virtio-blk is already active; reset it first");
        }
        if (queues.size() != 1) {
            throw new IllegalArgumentException("virtio-blk has 1 queue, got " + queues.size());
        }
        Virtqueue q = queues.getFirst();
        long ackedF = features.acked();
        BlockRequest.Limits limits = new BlockRequest.Limits(config.capacity(), disk.readOnly(),
                VirtioFeatures.has(ackedF, F_DISCARD), VirtioFeatures.has(ackedF, F_WRITE_ZEROES),
                MAX_DISCARD_SECTORS, MAX_DISCARD_SEG, MAX_DISCARD_SECTORS, MAX_DISCARD_SEG);
        running = new Running(memory, q, interrupt, limits);
        running.start();
    }

    @Override
    public synchronized boolean active() {
        return running != null;
    }

    @Override
    public void queueNotify(int queue) {
        Running r;
        synchronized (this) {
            r = running;
        }
        if (r != null && queue == 0) {
            r.drain();
        }
    }

    @Override
    public synchronized void reset() {
        if (running != null) {
            running.stop();
            running = null;
        }
        features.reset();
    }

    /** One activation: the I/O threads and the chains in flight. */
    private final class Running {
        private final GuestMemory memory;
        private final Virtqueue queue;
        private final Interrupt interrupt;
        private final BlockRequest.Limits limits;
        private final ThreadPoolExecutor io;
        private final Semaphore inFlight = new Semaphore(QUEUE_SIZE);
        private final ReentrantLock draining = new ReentrantLock();
        private volatile boolean stopping;

        Running(GuestMemory memory, Virtqueue queue, Interrupt interrupt, BlockRequest.Limits limits) {
            this.memory = memory;
            this.queue = queue;
            this.interrupt = interrupt;
            this.limits = limits;
            this.io = new ThreadPoolExecutor(IO_THREADS, IO_THREADS, IO_THREAD_IDLE_SECONDS, TimeUnit.SECONDS,
                    new LinkedBlockingQueue<>(), Thread.ofPlatform().daemon().name("boxlite-blk-io-", 0).factory());
            io.allowCoreThreadTimeOut(true); // an idle disk holds no threads
        }

        void start() {
            drain(); // the driver may have queued requests before DRIVER_OK
        }

        /**
         * Pops every available chain on the calling thread and hands each to an I/O thread. (Running
         * a lone request right here would save a wake-up, but a slow one would then hold back the
         * chains the driver adds meanwhile, which keepsSeveralRequestsInFlightAtOnce forbids.)
         */
        void drain() {
            draining.lock();
            try {
                do {
                    if (stopping || !queue.active()) {
                        return;
                    }
                    queue.disableNotification();
                    for (DescriptorChain c = queue.popChain(); c != null; c = queue.popChain()) {
                        submit(c.headIndex(), parse(c));
                    }
                } while (queue.enableNotification());
            } catch (VirtqueueException e) {
                interrupt.needsReset(0, "virtio-blk: " + e.getMessage());
            } catch (RuntimeException e) {
                if (stopping) {
                    return; // reset shut the pool down while chains were popped: they go with the queue
                }
                LOG.log(Level.ERROR, "virtio-blk: popping requests failed; the device needs a reset", e);
                interrupt.needsReset(0, "virtio-blk: internal error: " + e);
            } finally {
                draining.unlock();
            }
        }

        private void submit(int head, BlockRequest.Parsed parsed) {
            // a guest that keeps offering chains without waiting for used ones is held back here
            inFlight.acquireUninterruptibly();
            try {
                io.execute(() -> {
                    try {
                        complete(head, run(head, parsed));
                    } finally {
                        inFlight.release();
                    }
                });
            } catch (RuntimeException e) {
                inFlight.release();
                throw e;
            }
        }

        /** Parses a chain; {@code null} stands for a parser failure, which fails only that request. */
        private BlockRequest.Parsed parse(DescriptorChain chain) {
            try {
                return BlockRequest.parse(chain, limits);
            } catch (RuntimeException e) {
                // defensive: nothing the guest wrote should get here, but the notifying thread must not die
                LOG.log(Level.ERROR, "virtio-blk: request at head " + chain.headIndex() + " could not be parsed", e);
                return null;
            }
        }

        /** Runs a parsed request; returns the bytes written into its chain. */
        private int run(int head, BlockRequest.Parsed parsed) {
            try {
                return switch (parsed) {
                    case BlockRequest.Valid v -> execute(v);
                    case BlockRequest.Invalid bad -> refuse(bad);
                    case null -> {
                        metrics.ioErrors.increment();
                        yield 0;
                    }
                };
            } catch (RuntimeException e) {
                // defensive, as in parse: a worker must not die
                LOG.log(Level.ERROR, "virtio-blk: request at head " + head + " failed unexpectedly", e);
                metrics.ioErrors.increment();
                return 0;
            }
        }

        private void complete(int head, int used) {
            if (queue.addUsedAndCheckNotify(head, used)) {
                interrupt.signalUsed(0);
            }
        }

        private int refuse(BlockRequest.Invalid bad) {
            metrics.invalidRequests.increment();
            LOG.log(Level.DEBUG, "virtio-blk: request at head {0} refused: {1}: {2}", bad.head(), bad.error(), bad.detail());
            if (bad.status() == null) {
                return 0;
            }
            writeStatus(bad.status(), bad.error().status());
            return 1;
        }

        /** Runs a valid request; returns the bytes written into the chain. */
        private int execute(BlockRequest.Valid v) {
            int dataIn = 0;
            int status = BlockRequest.S_OK;
            try {
                switch (v.request()) {
                    case BlockRequest.Read r -> {
                        disk.readv(r.sector() * BlockRequest.SECTOR, r.data().byteBuffers(0, r.data().length()));
                        dataIn = Math.toIntExact(r.data().length());
                        metrics.reads.increment();
                        metrics.dataBuffers.add(r.data().descriptors().size());
                        metrics.bytesRead.add(dataIn);
                    }
                    case BlockRequest.Write w -> {
                        disk.writev(w.sector() * BlockRequest.SECTOR, w.data().byteBuffers(0, w.data().length()));
                        metrics.writes.increment();
                        metrics.dataBuffers.add(w.data().descriptors().size());
                        metrics.bytesWritten.add(w.data().length());
                    }
                    case BlockRequest.Flush f -> {
                        disk.flush();
                        metrics.flushes.increment();
                    }
                    case BlockRequest.GetId g -> {
                        int n = (int) Math.min(g.data().length(), BlockRequest.ID_BYTES);
                        g.data().write(0, id, 0, n);
                        dataIn = n;
                    }
                    case BlockRequest.Discard d -> {
                        for (BlockRequest.Segment s : d.segments()) {
                            disk.discard(s.sector() * BlockRequest.SECTOR, s.sectors() * BlockRequest.SECTOR);
                        }
                        metrics.discards.increment();
                    }
                    case BlockRequest.WriteZeroes z -> {
                        for (BlockRequest.Segment s : z.segments()) {
                            disk.writeZeroes(s.sector() * BlockRequest.SECTOR, s.sectors() * BlockRequest.SECTOR, s.unmap());
                        }
                        metrics.writeZeroes.increment();
                    }
                }
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "virtio-blk: " + v.request().getClass().getSimpleName() + " at head " + v.head()
                        + " failed; the guest gets an I/O error", e);
                metrics.ioErrors.increment();
                status = BlockRequest.S_IOERR;
                dataIn = 0;
            }
            writeStatus(v.status(), status);
            return dataIn + 1;
        }

        private void writeStatus(GuestAddress at, int status) {
            memory.writeByte(at, (byte) status);
        }

        void stop() {
            stopping = true;
            io.shutdown();
            try {
                if (!io.awaitTermination(RESET_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    LOG.log(Level.WARNING, "virtio-blk: requests still running {0} s after reset; their completions will be dropped",
                            RESET_WAIT_SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
