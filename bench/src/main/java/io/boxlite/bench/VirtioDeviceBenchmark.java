package io.boxlite.bench;

import io.boxlite.disk.RawDiskImage;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.devices.virtio.block.BlockDevice;
import io.boxlite.vmm.devices.virtio.block.BlockRequest;
import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue;
import io.boxlite.vmm.devices.virtio.testing.MockVsockGuest;
import io.boxlite.vmm.devices.virtio.testing.RecordingInterrupt;
import io.boxlite.vmm.devices.virtio.vsock.VsockConnection;
import io.boxlite.vmm.devices.virtio.vsock.VsockDevice;
import io.boxlite.vmm.devices.virtio.vsock.VsockHeader;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Host-side throughput of the Java virtio devices, driven through the driver-side mock queues
 * (no guest, no VM exits): what the device layer itself costs.
 *
 * <ul>
 *   <li>{@code blk}: a batch of 32 requests of {@code blockSize} bytes (reads or writes, random
 *       sectors, page-cache-warm raw file) offered at once, one kick, waited for;
 *       score = requests/s.</li>
 *   <li>{@code vsockHostToGuest}: a host writer streams into one connection; the mock guest
 *       consumes 4 KiB packets and returns credit as Linux does; score = MiB/s.</li>
 * </ul>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class VirtioDeviceBenchmark {
    private static final int BATCH = 32;

    @State(Scope.Thread)
    public static class Blk {
        @Param({"4096", "65536"})
        public int blockSize;

        @Param({"read", "write"})
        public String op;

        Path dir;
        RawDiskImage disk;
        GuestMemory memory;
        MockSplitQueue driver;
        BlockDevice device;
        RecordingInterrupt irq = new RecordingInterrupt();
        final List<GuestAddress[]> buffers = new ArrayList<>();
        final java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
        long sectors;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            dir = Files.createTempDirectory("boxlite-bench-blk");
            disk = RawDiskImage.create(dir.resolve("disk.raw"), 256L << 20);
            sectors = disk.size() / 512;
            byte[] fill = new byte[1 << 20];
            for (long off = 0; off < disk.size(); off += fill.length) {
                disk.write(off, java.nio.ByteBuffer.wrap(fill)); // allocate the file: reads hit the page cache
            }
            memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 64L << 20)));
            GuestHeap heap = new GuestHeap(memory, GuestAddress.of(0x1000), (64L << 20) - 0x1000);
            driver = new MockSplitQueue(heap, BlockDevice.QUEUE_SIZE);
            Virtqueue q = new Virtqueue(BlockDevice.QUEUE_SIZE);
            device = new BlockDevice(disk, "bench");
            device.ackFeatures(device.availFeatures());
            driver.configure(q);
            q.activate(memory, device.ackedFeatures());
            device.activate(memory, List.of(q), irq);
            for (int i = 0; i < BATCH; i++) {
                buffers.add(new GuestAddress[] {heap.alloc(16), heap.alloc(blockSize), heap.alloc(1)});
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            device.reset();
            disk.close();
            memory.close();
            Files.deleteIfExists(dir.resolve("disk.raw"));
            Files.deleteIfExists(dir);
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int blk(Blk s) throws InterruptedException {
        boolean read = s.op.equals("read");
        int type = read ? BlockRequest.T_IN : BlockRequest.T_OUT;
        for (GuestAddress[] b : s.buffers) {
            s.memory.writeInt(b[0], type);
            s.memory.writeLong(b[0].plus(8), s.rnd.nextLong(s.sectors - s.blockSize / 512));
            s.driver.offer(List.of(MockSplitQueue.Buffer.readable(b[0], 16),
                    new MockSplitQueue.Buffer(b[1], s.blockSize, read),
                    MockSplitQueue.Buffer.writable(b[2], 1)));
        }
        s.device.queueNotify(0);
        int done = 0;
        int bytes = 0;
        while (done < BATCH) {
            MockSplitQueue.Used u = s.driver.pollUsed();
            if (u == null) {
                s.driver.setUsedEvent(s.driver.lastUsed());
                if ((u = s.driver.pollUsed()) == null) {
                    s.irq.await(1, TimeUnit.MILLISECONDS);
                    continue;
                }
            }
            bytes += u.length();
            done++;
        }
        return bytes;
    }

    @State(Scope.Thread)
    public static class Vsock {
        GuestMemory memory;
        VsockDevice device;
        MockVsockGuest guest;
        Thread writer;
        volatile boolean stop;
        int fwdCnt;
        int lastSentFwd;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 64L << 20)));
            device = new VsockDevice(3);
            device.host().listen(5000, conn -> {
                writer = Thread.currentThread();
                byte[] chunk = new byte[64 * 1024];
                try (OutputStream out = conn.outputStream()) {
                    while (!stop) {
                        out.write(chunk);
                    }
                } catch (IOException e) {
                    // the device was reset at tear-down
                }
            });
            guest = new MockVsockGuest(new GuestHeap(memory, GuestAddress.of(0x1000), (64L << 20) - 0x1000), device, -1L, 128);
            guest.send(guest.header(1000, 5000, VsockHeader.OP_REQUEST, 0, 0, VsockConnection.RECEIVE_BUFFER, 0), null);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            stop = true;
            device.reset();
            device.host().close();
            memory.close();
        }
    }

    /** One operation = 1 MiB delivered to the guest, so the score reads as MiB/s. */
    @Benchmark
    public int vsockHostToGuest(Vsock s) throws InterruptedException {
        int got = 0;
        while (got < (1 << 20)) {
            MockVsockGuest.Packet p = s.guest.receive(1000);
            if (p == null) {
                throw new IllegalStateException("no packet from the device for 1 s");
            }
            if (p.header().op() != VsockHeader.OP_RW) {
                continue;
            }
            got += p.payload().length;
            s.fwdCnt += p.payload().length;
            if (s.fwdCnt - s.lastSentFwd >= 64 * 1024) {
                s.lastSentFwd = s.fwdCnt;
                s.guest.send(s.guest.header(1000, 5000, VsockHeader.OP_CREDIT_UPDATE, 0, 0, VsockConnection.RECEIVE_BUFFER, s.fwdCnt), null);
            }
        }
        return got;
    }
}
