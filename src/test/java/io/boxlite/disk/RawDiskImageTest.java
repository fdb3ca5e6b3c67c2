package io.boxlite.disk;

import io.boxlite.AlreadyExistsException;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.NotFoundException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class RawDiskImageTest {
    @TempDir
    Path dir;

    @Test
    void createsASparseImageOfTheRequestedSizeThatReadsAsZeros() throws Exception {
        Path p = dir.resolve("disk.raw");
        try (RawDiskImage disk = RawDiskImage.create(p, 8L << 20)) {
            assertEquals(8L << 20, disk.size());
            assertEquals(8L << 20, Files.size(p));
            ByteBuffer b = ByteBuffer.allocate(4096);
            disk.read(1 << 20, b);
            assertArrayEquals(new byte[4096], b.array());
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary file left behind");
        }
    }

    @Test
    void writesReadBackAndSurviveReopening() {
        Path p = dir.resolve("d");
        byte[] data = new byte[10_000];
        new Random(1).nextBytes(data);
        try (RawDiskImage disk = RawDiskImage.create(p, 1 << 20)) {
            disk.write(12345, ByteBuffer.wrap(data));
            disk.flush();
        }
        try (RawDiskImage disk = RawDiskImage.open(p, true)) {
            ByteBuffer b = ByteBuffer.allocate(data.length);
            disk.read(12345, b);
            assertArrayEquals(data, b.array());
            assertTrue(disk.readOnly());
            assertThrows(InvalidStateException.class, () -> disk.write(0, ByteBuffer.allocate(1)));
            assertThrows(InvalidStateException.class, () -> disk.discard(0, 512));
            assertThrows(InvalidStateException.class, () -> disk.writeZeroes(0, 512, true));
        }
    }

    @Test
    void discardAndWriteZeroesLeaveZeros() {
        try (RawDiskImage disk = RawDiskImage.create(dir.resolve("d"), 4L << 20)) {
            byte[] ones = new byte[3 << 20];
            Arrays.fill(ones, (byte) 1);
            disk.write(0, ByteBuffer.wrap(ones));
            disk.discard(512, (2 << 20) + 512);
            disk.writeZeroes((3 << 20) - 1024, 512, false);
            ByteBuffer b = ByteBuffer.allocate(3 << 20);
            disk.read(0, b);
            byte[] got = b.array();
            for (int i = 0; i < got.length; i++) {
                boolean zero = (i >= 512 && i < (2 << 20) + 1024) || (i >= (3 << 20) - 1024 && i < (3 << 20) - 512);
                assertEquals(zero ? 0 : 1, got[i], "byte " + i);
            }
        }
    }

    @Test
    void discardAndWriteZeroesWithUnmapGiveTheSpaceBackAndKeepTheSize() throws Exception {
        Path p = dir.resolve("d");
        long mib = 1 << 20;
        try (RawDiskImage disk = RawDiskImage.create(p, 16 * mib)) {
            byte[] data = new byte[Math.toIntExact(12 * mib)];
            new Random(5).nextBytes(data);
            disk.write(0, ByteBuffer.wrap(data));
            disk.flush();
            long full = AllocatedSpace.of(p);
            assertTrue(full >= 12 * mib, "the data is allocated: " + full);

            disk.discard(0, 4 * mib);
            disk.writeZeroes(4 * mib, 4 * mib, true);
            long punched = AllocatedSpace.of(p);
            assertTrue(full - punched >= 8 * mib, "8 MiB given back: " + full + " -> " + punched);

            disk.writeZeroes(8 * mib, 2 * mib, false);
            assertTrue(AllocatedSpace.of(p) >= punched, "write-zeroes without unmap keeps the range allocated");
            assertEquals(16 * mib, Files.size(p), "the size is kept");

            ByteBuffer b = ByteBuffer.allocate(data.length);
            disk.read(0, b);
            byte[] expected = data.clone();
            Arrays.fill(expected, 0, Math.toIntExact(10 * mib), (byte) 0);
            assertArrayEquals(expected, b.array(), "the holes and the zeroed range read as zeros, the rest is kept");
        }
    }

    @Test
    void aDiscardFromAVirtualThreadPunchesTheHoleToo() throws Exception {
        Path p = dir.resolve("v");
        try (RawDiskImage disk = RawDiskImage.create(p, 4L << 20)) {
            disk.write(0, ByteBuffer.wrap(new byte[2 << 20]).put(0, (byte) 9));
            disk.flush();
            long before = AllocatedSpace.of(p);
            Thread.ofVirtual().start(() -> disk.discard(0, 2L << 20)).join();
            assertTrue(before - AllocatedSpace.of(p) >= 2L << 20, "2 MiB given back");
            ByteBuffer b = ByteBuffer.allocate(1);
            disk.read(0, b);
            assertEquals(0, b.get(0));
        }
    }

    /** Direct buffers of the given sizes, like a guest's scatter list; a few start mid-buffer. */
    private static ByteBuffer[] scatter(int... sizes) {
        ByteBuffer[] out = new ByteBuffer[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(sizes[i] + 7);
            b.position(7); // not at the start of their memory
            out[i] = b;
        }
        return out;
    }

    private static byte[] drain(ByteBuffer[] buffers) {
        List<Byte> all = new ArrayList<>();
        for (ByteBuffer b : buffers) {
            b.flip().position(7);
            while (b.hasRemaining()) {
                all.add(b.get());
            }
        }
        byte[] out = new byte[all.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = all.get(i);
        }
        return out;
    }

    @Test
    void scatteredWritesAndReadsMoveTheSameBytesOnPlatformAndVirtualThreads() throws Exception {
        byte[] data = new byte[4096 * 3 + 512 + 1000];
        new Random(9).nextBytes(data);
        int[] sizes = {4096, 512, 4096, 1000, 4096}; // all of data, unevenly cut
        try (RawDiskImage disk = RawDiskImage.create(dir.resolve("v.raw"), 1 << 20)) {
            ByteBuffer[] out = scatter(sizes);
            int at = 0;
            for (ByteBuffer b : out) {
                b.put(data, at, b.remaining());
                at += b.capacity() - 7;
                b.flip().position(7);
            }
            disk.writev(8192, out); // on this platform thread: one pwritev
            for (ByteBuffer b : out) {
                assertFalse(b.hasRemaining(), "every buffer was consumed");
            }

            ByteBuffer plain = ByteBuffer.allocate(data.length);
            disk.read(8192, plain);
            assertArrayEquals(data, plain.array(), "what the vectored write put on disk");

            ByteBuffer[] in = scatter(sizes);
            disk.readv(8192, in);
            assertArrayEquals(data, drain(in), "the vectored read");

            ByteBuffer[] fromVirtual = scatter(sizes);
            Thread.ofVirtual().start(() -> disk.readv(8192, fromVirtual)).join(); // buffer by buffer
            assertArrayEquals(data, drain(fromVirtual), "the same read from a virtual thread");
        }
    }

    @Test
    void aScatteredRequestPastTheEndFailsWholeAndWritesNothing() throws Exception {
        try (RawDiskImage disk = RawDiskImage.create(dir.resolve("e.raw"), 8192)) {
            ByteBuffer[] out = scatter(4096, 4096);
            for (ByteBuffer b : out) {
                while (b.hasRemaining()) {
                    b.put((byte) 1);
                }
                b.flip().position(7);
            }
            assertThrows(IllegalArgumentException.class, () -> disk.writev(4096, out));
            ByteBuffer all = ByteBuffer.allocate(8192);
            disk.read(0, all);
            assertArrayEquals(new byte[8192], all.array(), "nothing was written");
        }
    }

    @Test
    void rejectsRangesOutsideTheDiskWithoutTouchingIt() {
        try (RawDiskImage disk = RawDiskImage.create(dir.resolve("d"), 1 << 20)) {
            assertThrows(IllegalArgumentException.class, () -> disk.read((1 << 20) - 1, ByteBuffer.allocate(2)));
            assertThrows(IllegalArgumentException.class, () -> disk.write(-1, ByteBuffer.allocate(1)));
            assertThrows(IllegalArgumentException.class, () -> disk.discard(Long.MAX_VALUE, 2));
            assertThrows(IllegalArgumentException.class, () -> disk.writeZeroes(0, (1 << 20) + 1, false));
        }
    }

    @Test
    void validatesSizesAndNames() throws Exception {
        assertThrows(InvalidArgumentException.class, () -> RawDiskImage.create(dir.resolve("a"), 1000));
        assertThrows(InvalidArgumentException.class, () -> RawDiskImage.create(dir.resolve("a"), 0));
        Path odd = Files.write(dir.resolve("odd"), new byte[1000]);
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> RawDiskImage.open(odd, false));
        assertTrue(e.getMessage().contains("multiple of 512"), e.getMessage());
        assertThrows(NotFoundException.class, () -> RawDiskImage.open(dir.resolve("missing"), false));
        Files.write(dir.resolve("exists"), new byte[512]);
        assertThrows(AlreadyExistsException.class, () -> RawDiskImage.create(dir.resolve("exists"), 512));
        assertEquals(512, Files.size(dir.resolve("exists")), "the existing file is untouched");
    }

    @Test
    void concurrentWritersToDisjointRangesDoNotInterfere() throws Exception {
        try (RawDiskImage disk = RawDiskImage.create(dir.resolve("d"), 16L << 20);
             ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int id = t;
                fs.add(ex.submit(() -> {
                    byte[] block = new byte[4096];
                    Arrays.fill(block, (byte) id);
                    for (int i = 0; i < 64; i++) {
                        disk.write(((long) id * 64 + i) * 4096, ByteBuffer.wrap(block));
                    }
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            for (int id = 0; id < 16; id++) {
                ByteBuffer b = ByteBuffer.allocate(64 * 4096);
                disk.read((long) id * 64 * 4096, b);
                for (byte x : b.array()) {
                    assertEquals(id, x);
                }
            }
        }
    }

    @Test
    void closeIsIdempotent() {
        RawDiskImage disk = RawDiskImage.create(dir.resolve("d"), 512);
        disk.close();
        disk.close();
    }
}
