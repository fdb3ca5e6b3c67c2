package io.boxlite.vmm.devices.virtio.block;

import io.boxlite.StorageException;
import io.boxlite.disk.AllocatedSpace;
import io.boxlite.disk.DiskImage;
import io.boxlite.disk.RawDiskImage;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue.Buffer;
import io.boxlite.vmm.devices.virtio.testing.RecordingInterrupt;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.boxlite.vmm.devices.virtio.block.BlockRequest.*;
import static org.junit.jupiter.api.Assertions.*;

class BlockDeviceTest {
    private static final long DISK = 4L << 20;
    private static final long ALL = -1L;

    @TempDir
    Path dir;

    private GuestMemory memory;
    private GuestHeap heap;
    private MockSplitQueue driver;
    private Virtqueue queue;
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private BlockDevice device;
    private DiskImage disk;
    private final Map<Integer, Integer> completed = new HashMap<>();

    @BeforeEach
    void setUp() {
        memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 32L << 20)));
        heap = new GuestHeap(memory, GuestAddress.of(0x1000), (32L << 20) - 0x1000);
        driver = new MockSplitQueue(heap, BlockDevice.QUEUE_SIZE);
        queue = new Virtqueue(BlockDevice.QUEUE_SIZE);
    }

    @AfterEach
    void tearDown() {
        if (device != null) {
            device.reset();
        }
        if (disk != null) {
            disk.close();
        }
        memory.close();
    }

    private void start(DiskImage d, long driverFeatures) {
        disk = d;
        device = new BlockDevice(d, "boxlite-serial-01");
        device.ackFeatures(driverFeatures);
        driver.configure(queue);
        queue.activate(memory, device.ackedFeatures());
        device.activate(memory, List.of(queue), irq);
    }

    private void startRaw(long features) {
        start(RawDiskImage.create(dir.resolve("disk.raw"), DISK), features);
    }

    private record Req(int head, GuestAddress status) {
    }

    private GuestAddress header(int type, long sector) {
        GuestAddress h = heap.alloc(16);
        memory.writeInt(h, type);
        memory.writeLong(h.plus(8), sector);
        return h;
    }

    private Req submit(int type, long sector, List<Buffer> data, boolean indirect) {
        GuestAddress status = heap.alloc(1);
        memory.writeByte(status, (byte) 0x7f);
        List<Buffer> chain = new ArrayList<>();
        chain.add(Buffer.readable(header(type, sector), 16));
        chain.addAll(data);
        chain.add(Buffer.writable(status, 1));
        int head = indirect ? driver.offerIndirect(chain) : driver.offer(chain);
        device.queueNotify(0);
        return new Req(head, status);
    }

    /** Waits for the used entry of {@code head}; returns its length. */
    private int await(int head) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!completed.containsKey(head)) {
            for (MockSplitQueue.Used u = driver.pollUsed(); u != null; u = driver.pollUsed()) {
                completed.put(u.head(), u.length());
            }
            if (completed.containsKey(head)) {
                break;
            }
            driver.setUsedEvent(driver.lastUsed());
            assertTrue(System.nanoTime() < deadline, "request at head " + head + " did not complete");
            irq.await(20, TimeUnit.MILLISECONDS);
        }
        return completed.remove(head);
    }

    private int status(Req r) {
        return memory.readByte(r.status()) & 0xff;
    }

    private GuestAddress data(byte[] bytes) {
        GuestAddress a = heap.alloc(bytes.length);
        memory.write(a, bytes);
        return a;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void offersFeaturesAndAConfigSpaceDescribingTheDisk() {
        startRaw(ALL);
        long f = device.availFeatures();
        assertTrue(VirtioFeatures.has(f, VirtioFeatures.VERSION_1));
        for (int bit : new int[] {BlockDevice.F_FLUSH, BlockDevice.F_SEG_MAX, BlockDevice.F_BLK_SIZE, BlockDevice.F_DISCARD, BlockDevice.F_WRITE_ZEROES}) {
            assertTrue(VirtioFeatures.has(f, bit), "feature " + bit);
        }
        assertFalse(VirtioFeatures.has(f, BlockDevice.F_RO));
        byte[] c = new byte[BlockConfig.SIZE];
        device.readConfig(0, c);
        ByteBuffer b = ByteBuffer.wrap(c).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(DISK / 512, b.getLong(0), "capacity in sectors");
        assertEquals(BlockDevice.QUEUE_SIZE - 2, b.getInt(12), "seg_max");
        assertEquals(512, b.getInt(20), "blk_size");
        assertEquals(BlockDevice.MAX_DISCARD_SECTORS, b.getInt(36));
        assertEquals(BlockDevice.MAX_DISCARD_SEG, b.getInt(40));
        assertEquals(BlockDevice.MAX_DISCARD_SECTORS, b.getInt(48));
        assertEquals(1, c[56], "write_zeroes_may_unmap");
        byte[] tail = new byte[4];
        device.readConfig(BlockConfig.SIZE + 100, tail);
        assertArrayEquals(new byte[4], tail, "past the end reads zero");
    }

    @Test
    void writtenSectorsReadBackAcrossSplitBuffersAndIndirectTables() throws Exception {
        startRaw(ALL);
        byte[] payload = random(3 * 4096, 7);
        GuestAddress a = data(Arrays.copyOfRange(payload, 0, 4096));
        GuestAddress b = data(Arrays.copyOfRange(payload, 4096, 3 * 4096));
        Req w = submit(T_OUT, 10, List.of(Buffer.readable(a, 4096), Buffer.readable(b, 8192)), false);
        assertEquals(1, await(w.head()), "a write completes with only the status byte written");
        assertEquals(S_OK, status(w));

        GuestAddress r1 = heap.alloc(512);
        GuestAddress r2 = heap.alloc(3 * 4096 - 512);
        Req r = submit(T_IN, 10, List.of(Buffer.writable(r1, 512), Buffer.writable(r2, 3 * 4096 - 512)), true);
        assertEquals(3 * 4096 + 1, await(r.head()), "a read reports data plus status");
        assertEquals(S_OK, status(r));
        byte[] back = new byte[3 * 4096];
        System.arraycopy(memory.read(r1, 512), 0, back, 0, 512);
        System.arraycopy(memory.read(r2, 3 * 4096 - 512), 0, back, 512, 3 * 4096 - 512);
        assertArrayEquals(payload, back);

        ByteBuffer onDisk = ByteBuffer.allocate(3 * 4096);
        disk.read(10 * 512, onDisk);
        assertArrayEquals(payload, onDisk.array(), "the bytes are on the disk image");
        assertEquals(1, device.metrics().writes());
        assertEquals(3 * 4096, device.metrics().bytesRead());
    }

    @Test
    void aHeaderSplitOverTwoDescriptorsIsStillParsed() throws Exception {
        startRaw(ALL);
        GuestAddress h = header(T_IN, 0);
        GuestAddress buf = heap.alloc(512);
        GuestAddress status = heap.alloc(1);
        int head = driver.offer(List.of(Buffer.readable(h, 5), Buffer.readable(h.plus(5), 11), Buffer.writable(buf, 512), Buffer.writable(status, 1)));
        device.queueNotify(0);
        assertEquals(513, await(head));
        assertEquals(S_OK, memory.readByte(status));
    }

    @Test
    void flushAndGetIdSucceed() throws Exception {
        startRaw(ALL);
        Req f = submit(T_FLUSH, 0, List.of(), false);
        assertEquals(1, await(f.head()));
        assertEquals(S_OK, status(f));
        assertEquals(1, device.metrics().flushes());

        GuestAddress id = heap.alloc(20);
        memory.write(id, "XXXXXXXXXXXXXXXXXXXX".getBytes(StandardCharsets.US_ASCII));
        Req g = submit(T_GET_ID, 0, List.of(Buffer.writable(id, 20)), false);
        assertEquals(21, await(g.head()));
        assertEquals(S_OK, status(g));
        byte[] expected = Arrays.copyOf("boxlite-serial-01".getBytes(StandardCharsets.US_ASCII), 20);
        assertArrayEquals(expected, memory.read(id, 20), "serial, zero-padded to 20 bytes");
    }

    private GuestAddress segments(long[][] segs) {
        GuestAddress a = heap.alloc(16L * segs.length);
        for (int i = 0; i < segs.length; i++) {
            memory.writeLong(a.plus(16L * i), segs[i][0]);
            memory.writeInt(a.plus(16L * i + 8), (int) segs[i][1]);
            memory.writeInt(a.plus(16L * i + 12), (int) segs[i][2]);
        }
        return a;
    }

    private Req segmentRequest(int type, long[][] segs) {
        return submit(type, 0, List.of(Buffer.readable(segments(segs), 16 * segs.length)), false);
    }

    @Test
    void discardAndWriteZeroesLeaveZerosOnTheDisk() throws Exception {
        startRaw(ALL);
        byte[] ones = new byte[1 << 20];
        Arrays.fill(ones, (byte) 0x55);
        disk.write(0, ByteBuffer.wrap(ones));
        Req d = segmentRequest(T_DISCARD, new long[][] {{0, 8, 0}, {100, 4, 0}});
        assertEquals(1, await(d.head()));
        assertEquals(S_OK, status(d));
        Req z = segmentRequest(T_WRITE_ZEROES, new long[][] {{200, 16, SEGMENT_F_UNMAP}});
        assertEquals(1, await(z.head()));
        assertEquals(S_OK, status(z));
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        disk.read(0, b);
        byte[] got = b.array();
        for (int i = 0; i < got.length; i++) {
            int sector = i / 512;
            boolean zero = sector < 8 || (sector >= 100 && sector < 104) || (sector >= 200 && sector < 216);
            assertEquals(zero ? 0 : 0x55, got[i] & 0xff, "byte " + i);
        }
    }

    @Test
    void aDiscardThroughTheDeviceGivesTheSpaceBackToTheHostFile() throws Exception {
        startRaw(ALL);
        Path file = dir.resolve("disk.raw");
        byte[] data = new byte[3 << 20];
        new Random(6).nextBytes(data);
        disk.write(0, ByteBuffer.wrap(data));
        disk.flush();
        long before = AllocatedSpace.of(file);
        Req d = segmentRequest(T_DISCARD, new long[][] {{0, 2048, 0}, {2048, 2048, 0}});
        assertEquals(1, await(d.head()));
        assertEquals(S_OK, status(d));
        Req z = segmentRequest(T_WRITE_ZEROES, new long[][] {{4096, 2048, SEGMENT_F_UNMAP}});
        assertEquals(1, await(z.head()));
        assertEquals(S_OK, status(z));
        long after = AllocatedSpace.of(file);
        assertTrue(before - after >= 3L << 20, "3 MiB given back: " + before + " -> " + after);
        assertEquals(DISK, Files.size(file));
    }

    @Test
    void malformedSegmentsAreRefusedWithoutTouchingTheDisk() throws Exception {
        startRaw(ALL);
        byte[] ones = new byte[64 * 512];
        Arrays.fill(ones, (byte) 1);
        disk.write(0, ByteBuffer.wrap(ones));
        long cap = DISK / 512;
        Object[][] cases = {
                {T_DISCARD, new long[][] {{cap - 1, 2, 0}}, S_IOERR, "past capacity"},
                {T_DISCARD, new long[][] {{-1L, 1, 0}}, S_IOERR, "sector 2^64-1"},
                {T_DISCARD, new long[][] {{0, 8, SEGMENT_F_UNMAP}}, S_UNSUPP, "unmap on discard"},
                {T_WRITE_ZEROES, new long[][] {{0, 8, 2}}, S_UNSUPP, "unknown flag"},
                {T_WRITE_ZEROES, new long[][] {{0, 0, 0}}, S_IOERR, "zero sectors"},
                {T_WRITE_ZEROES, new long[][] {{0, BlockDevice.MAX_DISCARD_SECTORS + 1L, 0}}, S_IOERR, "segment too large"},
                {T_DISCARD, new long[9][], S_IOERR, "too many segments"},
        };
        for (Object[] c : cases) {
            long[][] segs = (long[][]) c[1];
            for (int i = 0; i < segs.length; i++) {
                if (segs[i] == null) {
                    segs[i] = new long[] {i, 1, 0};
                }
            }
            Req r = segmentRequest((int) c[0], segs);
            assertEquals(1, await(r.head()), (String) c[3]);
            assertEquals((int) c[2], status(r), (String) c[3]);
        }
        // 12 bytes of payload: not a whole segment
        Req partial = submit(T_DISCARD, 0, List.of(Buffer.readable(heap.alloc(12), 12)), false);
        await(partial.head());
        assertEquals(S_IOERR, status(partial));
        ByteBuffer b = ByteBuffer.allocate(64 * 512);
        disk.read(0, b);
        assertArrayEquals(ones, b.array(), "nothing was discarded");
        assertEquals(8, device.metrics().invalidRequests());
    }

    @Test
    void discardIsUnsupportedWhenTheDriverDidNotNegotiateIt() throws Exception {
        startRaw(VirtioFeatures.COMMON | VirtioFeatures.bit(BlockDevice.F_FLUSH));
        Req r = segmentRequest(T_DISCARD, new long[][] {{0, 1, 0}});
        await(r.head());
        assertEquals(S_UNSUPP, status(r));
    }

    @Test
    void aReadOnlyDiskAnnouncesRoAndFailsWrites() throws Exception {
        Path p = dir.resolve("ro.raw");
        RawDiskImage.create(p, DISK).close();
        start(RawDiskImage.open(p, true), ALL);
        assertTrue(VirtioFeatures.has(device.availFeatures(), BlockDevice.F_RO));
        assertFalse(VirtioFeatures.has(device.availFeatures(), BlockDevice.F_DISCARD));
        Req w = submit(T_OUT, 0, List.of(Buffer.readable(data(new byte[512]), 512)), false);
        await(w.head());
        assertEquals(S_IOERR, status(w));
        Req z = segmentRequest(T_WRITE_ZEROES, new long[][] {{0, 1, 0}});
        await(z.head());
        assertEquals(S_UNSUPP, status(z), "write-zeroes was not offered on a read-only disk");
        Req r = submit(T_IN, 0, List.of(Buffer.writable(heap.alloc(512), 512)), false);
        await(r.head());
        assertEquals(S_OK, status(r));
    }

    @Test
    void badRequestsGetErrorStatusesAndLaterRequestsStillWork() throws Exception {
        startRaw(ALL);
        Req unknown = submit(99, 0, List.of(), false);
        assertEquals(1, await(unknown.head()));
        assertEquals(S_UNSUPP, status(unknown));

        Req pastEnd = submit(T_IN, DISK / 512, List.of(Buffer.writable(heap.alloc(512), 512)), false);
        await(pastEnd.head());
        assertEquals(S_IOERR, status(pastEnd));

        Req overflow = submit(T_IN, Long.MAX_VALUE, List.of(Buffer.writable(heap.alloc(512), 512)), false);
        await(overflow.head());
        assertEquals(S_IOERR, status(overflow));

        Req unaligned = submit(T_OUT, 0, List.of(Buffer.readable(heap.alloc(100), 100)), false);
        await(unaligned.head());
        assertEquals(S_IOERR, status(unaligned));

        Req bothWays = submit(T_IN, 0, List.of(Buffer.readable(heap.alloc(512), 512), Buffer.writable(heap.alloc(512), 512)), false);
        await(bothWays.head());
        assertEquals(S_IOERR, status(bothWays));

        GuestAddress status = heap.alloc(1);
        int shortHeader = driver.offer(List.of(Buffer.readable(heap.alloc(8), 8), Buffer.writable(status, 1)));
        device.queueNotify(0);
        assertEquals(1, await(shortHeader));
        assertEquals(S_IOERR, memory.readByte(status));

        int noStatus = driver.offer(List.of(Buffer.readable(header(T_FLUSH, 0), 16)));
        device.queueNotify(0);
        assertEquals(0, await(noStatus), "nothing to answer in: used length 0");

        int outside = driver.offer(List.of(Buffer.readable(header(T_IN, 0), 16), Buffer.writable(GuestAddress.of(64L << 20), 512),
                Buffer.writable(heap.alloc(1), 1)));
        device.queueNotify(0);
        assertEquals(0, await(outside), "a buffer outside guest RAM fails the chain with length 0");

        Req ok = submit(T_IN, 0, List.of(Buffer.writable(heap.alloc(512), 512)), false);
        assertEquals(513, await(ok.head()));
        assertEquals(S_OK, status(ok));
        assertTrue(irq.resetReasons().isEmpty(), "bad requests never break the device");
    }

    @Test
    void aBackEndFailureBecomesAnIoErrorStatus() throws Exception {
        DiskImage failing = new ForwardingDisk(RawDiskImage.create(dir.resolve("f.raw"), DISK)) {
            @Override
            public void read(long offset, ByteBuffer dst) {
                throw new StorageException("simulated EIO");
            }
        };
        start(failing, ALL);
        Req r = submit(T_IN, 0, List.of(Buffer.writable(heap.alloc(512), 512)), false);
        assertEquals(1, await(r.head()));
        assertEquals(S_IOERR, status(r));
        assertEquals(1, device.metrics().ioErrors());
    }

    @Test
    void keepsSeveralRequestsInFlightAtOnce() throws Exception {
        int n = Math.min(8, BlockDevice.IO_THREADS);
        CountDownLatch allInside = new CountDownLatch(n);
        DiskImage slow = new ForwardingDisk(RawDiskImage.create(dir.resolve("s.raw"), DISK)) {
            @Override
            public void read(long offset, ByteBuffer dst) {
                allInside.countDown();
                try {
                    // only returns once all n reads are inside the disk at the same time
                    if (!allInside.await(10, TimeUnit.SECONDS)) {
                        throw new StorageException("requests were serialised");
                    }
                } catch (InterruptedException e) {
                    throw new StorageException("interrupted", e);
                }
                super.read(offset, dst);
            }
        };
        start(slow, ALL);
        List<Req> reqs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            reqs.add(submit(T_IN, i, List.of(Buffer.writable(heap.alloc(512), 512)), false));
        }
        for (Req r : reqs) {
            await(r.head());
            assertEquals(S_OK, status(r));
        }
    }

    @Test
    void aCorruptRingAsksForAResetInsteadOfThrowing() throws Exception {
        startRaw(ALL);
        driver.publish(BlockDevice.QUEUE_SIZE + 3);
        device.queueNotify(0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (irq.resetReasons().isEmpty() && System.nanoTime() < deadline) {
            irq.await(20, TimeUnit.MILLISECONDS);
        }
        assertEquals(1, irq.resetReasons().size());
        assertTrue(irq.resetReasons().getFirst().contains("head"), irq.resetReasons().getFirst());
    }

    @Test
    void resetStopsTheDeviceAndItCanBeActivatedAgain() throws Exception {
        startRaw(ALL);
        Req r = submit(T_FLUSH, 0, List.of(), false);
        await(r.head());
        device.reset();
        assertFalse(device.active());
        assertEquals(0, device.ackedFeatures());
        queue.reset();

        driver = new MockSplitQueue(heap, BlockDevice.QUEUE_SIZE);
        completed.clear();
        device.ackFeatures(ALL);
        driver.configure(queue);
        queue.activate(memory, device.ackedFeatures());
        device.activate(memory, List.of(queue), irq);
        Req again = submit(T_FLUSH, 0, List.of(), false);
        assertEquals(1, await(again.head()));
        assertEquals(S_OK, status(again));
    }

    @Test
    void manyRequestsWithChecksumsStayConsistent() throws Exception {
        startRaw(ALL);
        Random rnd = new Random(3);
        byte[] model = new byte[(int) DISK];
        for (int round = 0; round < 20; round++) {
            List<Req> batch = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                int sectors = 1 + rnd.nextInt(16);
                long sector = rnd.nextInt((int) (DISK / 512) - sectors);
                // disjoint per batch: sector range chosen per slot
                sector = (long) i * (DISK / 512 / 16) + (sector % (DISK / 512 / 16 - sectors));
                byte[] bytes = random(sectors * 512, rnd.nextLong());
                System.arraycopy(bytes, 0, model, (int) (sector * 512), bytes.length);
                batch.add(submit(T_OUT, sector, List.of(Buffer.readable(data(bytes), bytes.length)), rnd.nextBoolean()));
            }
            for (Req r : batch) {
                await(r.head());
                assertEquals(S_OK, status(r));
            }
            ByteBuffer check = ByteBuffer.allocate((int) DISK);
            disk.read(0, check);
            assertArrayEquals(model, check.array(), "round " + round);
        }
        GuestAddress all = heap.alloc(DISK);
        Req r = submit(T_IN, 0, List.of(Buffer.writable(all, (int) DISK)), false);
        assertEquals((int) DISK + 1, await(r.head()));
        assertArrayEquals(model, memory.read(all, (int) DISK));
        assertTrue(irq.usedCount() > 0, "completions raised interrupts");
    }

    /** Delegates everything; tests override one method. */
    private static class ForwardingDisk implements DiskImage {
        private final DiskImage d;

        ForwardingDisk(DiskImage d) {
            this.d = d;
        }

        @Override public long size() { return d.size(); }
        @Override public boolean readOnly() { return d.readOnly(); }
        @Override public void read(long offset, ByteBuffer dst) { d.read(offset, dst); }
        @Override public void write(long offset, ByteBuffer src) { d.write(offset, src); }
        @Override public void flush() { d.flush(); }
        @Override public void discard(long offset, long length) { d.discard(offset, length); }
        @Override public void writeZeroes(long offset, long length, boolean mayUnmap) { d.writeZeroes(offset, length, mayUnmap); }
        @Override public void close() { d.close(); }
    }
}
