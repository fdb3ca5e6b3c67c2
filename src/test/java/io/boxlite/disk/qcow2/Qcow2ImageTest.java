package io.boxlite.disk.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.AlreadyExistsException;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.NotFoundException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Qcow2ImageTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    static byte[] read(Qcow2Image img, long off, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        img.read(off, b);
        assertFalse(b.hasRemaining());
        return b.array();
    }

    @Test
    void aNewImageReadsAsZerosAndIsThin() throws Exception {
        Path p = dir.resolve("d.qcow2");
        Qcow2Image.create(p, 1L << 40, 65536);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            assertEquals(1L << 40, img.size());
            assertArrayEquals(new byte[8192], read(img, (1L << 40) - 8192, 8192));
            img.write(123 * 65536L + 77, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        }
        assertTrue(Files.size(p) < 2 * MIB, "1 TiB image with one write is " + Files.size(p) + " bytes");
        try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
            assertArrayEquals(new byte[] {0, 1, 2, 3, 0}, read(img, 123 * 65536L + 76, 5));
        }
    }

    @ParameterizedTest(name = "cluster size {0}")
    @ValueSource(ints = {512, 4096, 65536, 2 << 20})
    void randomWritesZeroesAndDiscardsMatchAModelAcrossReopen(int clusterSize) {
        Path p = dir.resolve("d.qcow2");
        int size = 24 * MIB;
        Qcow2Image.create(p, size, clusterSize);
        DiskModel model = new DiskModel(size);
        Random rnd = new Random(42 + clusterSize);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            for (int i = 0; i < 400; i++) {
                int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 4096 : 300_000);
                long off = rnd.nextInt(size - len);
                int op = rnd.nextInt(10);
                if (op < 7) {
                    byte[] data = DiskModel.randomBytes(rnd, len);
                    img.write(off, ByteBuffer.wrap(data));
                    model.write(off, data);
                } else if (op < 9) {
                    img.writeZeroes(off, len, rnd.nextBoolean());
                    model.zero(off, len);
                } else {
                    // discard: whole clusters read as zeros afterwards, partial ones stay
                    img.discard(off, len);
                    long s = (off + clusterSize - 1) / clusterSize * clusterSize;
                    long e = (off + len) / clusterSize * clusterSize;
                    if (e > s) {
                        model.zero(s, e - s);
                    }
                }
                if (i % 97 == 0) {
                    img.flush();
                }
            }
            model.assertMatches(img, rnd);
        }
        try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
            model.assertMatches(img, rnd);
        }
    }

    @Test
    void outOfRangeRequestsAreRefusedAndChangeNothing() {
        Path p = dir.resolve("d.qcow2");
        Qcow2Image.create(p, MIB, 65536);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            ByteBuffer two = ByteBuffer.wrap(new byte[] {9, 9});
            assertThrows(IllegalArgumentException.class, () -> img.write(MIB - 1, two));
            assertEquals(0, two.position());
            assertThrows(IllegalArgumentException.class, () -> img.read(-1, ByteBuffer.allocate(1)));
            assertThrows(IllegalArgumentException.class, () -> img.discard(0, MIB + 1));
            assertThrows(IllegalArgumentException.class, () -> img.writeZeroes(Long.MAX_VALUE, 2, true));
            assertArrayEquals(new byte[2], read(img, MIB - 2, 2));
        }
    }

    @Test
    void readOnlyAndClosedImagesRefuseChanges() {
        Path p = dir.resolve("d.qcow2");
        Qcow2Image.create(p, MIB, 65536);
        Qcow2Image ro = Qcow2Image.openReadOnly(p);
        assertTrue(ro.readOnly());
        assertThrows(InvalidStateException.class, () -> ro.write(0, ByteBuffer.allocate(1)));
        assertThrows(InvalidStateException.class, () -> ro.discard(0, 512));
        ro.close();
        ro.close();
        assertThrows(InvalidStateException.class, () -> ro.read(0, ByteBuffer.allocate(1)));
    }

    @Test
    void aSecondWriterIsRefused() {
        Path p = dir.resolve("d.qcow2");
        Qcow2Image.create(p, MIB, 65536);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            InvalidStateException e = assertThrows(InvalidStateException.class, () -> Qcow2Image.open(p));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            img.write(0, ByteBuffer.wrap(new byte[] {1}));
        }
    }

    @Test
    void createRefusesBadArgumentsAndExistingFiles() throws Exception {
        Path p = dir.resolve("d.qcow2");
        assertThrows(InvalidArgumentException.class, () -> Qcow2Image.create(p, 1000, 65536));
        assertThrows(InvalidArgumentException.class, () -> Qcow2Image.create(p, MIB, 3000));
        assertThrows(InvalidArgumentException.class, () -> Qcow2Image.create(p, MIB, 4 << 20));
        assertThrows(InvalidArgumentException.class, () -> Qcow2Image.create(p, 1L << 50, 512));
        assertFalse(Files.exists(p));
        Qcow2Image.create(p, MIB, 65536);
        assertThrows(AlreadyExistsException.class, () -> Qcow2Image.create(p, MIB, 65536));
        assertThrows(NotFoundException.class, () -> Qcow2Image.open(dir.resolve("missing.qcow2")));
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count(), "no staging leftovers");
        }
    }

    @Test
    void anOverlayReadsItsRawBackingAndCopiesPartialClustersOnWrite() throws Exception {
        Random rnd = new Random(7);
        byte[] base = DiskModel.randomBytes(rnd, 3 * MIB + 512);
        Files.createDirectories(dir.resolve("images"));
        Files.write(dir.resolve("images/base.raw"), base);
        Path box = Files.createDirectories(dir.resolve("boxes/b1"));
        Path overlay = box.resolve("disk.qcow2");
        Qcow2Image.createOverlay(overlay, "../../images/base.raw", BackingFormat.RAW, 8 * MIB);
        DiskModel model = new DiskModel(8 * MIB);
        model.write(0, base);
        try (Qcow2Image img = Qcow2Image.open(overlay)) {
            assertEquals("../../images/base.raw", img.header().backingFile().orElseThrow());
            assertEquals("raw", img.header().backingFormat().orElseThrow());
            model.assertMatches(img, rnd);
            byte[] small = {5, 6, 7};
            img.write(65536 + 100, ByteBuffer.wrap(small));
            model.write(65536 + 100, small);
            img.discard(2 * 65536, 65536); // must not show the backing data again
            model.zero(2 * 65536, 65536);
            byte[] straddle = DiskModel.randomBytes(rnd, 70_000);
            img.write(3 * MIB + 400, ByteBuffer.wrap(straddle)); // over the backing file's end
            model.write(3 * MIB + 400, straddle);
            model.assertMatches(img, rnd);
        }
        byte[] baseAfter = Files.readAllBytes(dir.resolve("images/base.raw"));
        assertArrayEquals(base, baseAfter, "the backing file is never written");
        // the home can move: the relative backing path still resolves
        Path moved = dir.resolveSibling(dir.getFileName() + "-moved");
        Files.move(dir, moved);
        try (Qcow2Image img = Qcow2Image.openReadOnly(moved.resolve("boxes/b1/disk.qcow2"))) {
            model.assertMatches(img, rnd);
        } finally {
            Files.move(moved, dir);
        }
    }

    @Test
    void scatteredWritesLandInPlaceOrAllocateAndReadBackOverABackingFile() throws Exception {
        Random rnd = new Random(11);
        byte[] base = DiskModel.randomBytes(rnd, 2 * MIB);
        Files.write(dir.resolve("base.raw"), base);
        Path overlay = dir.resolve("disk.qcow2");
        Qcow2Image.createOverlay(overlay, "base.raw", BackingFormat.RAW, 8 * MIB);
        DiskModel model = new DiskModel(8 * MIB);
        model.write(0, base);
        try (Qcow2Image img = Qcow2Image.open(overlay)) {
            for (int i = 0; i < 200; i++) {
                // whole new regions (allocating, copy-on-write over the backing) and rewrites of
                // regions written before (in place, one pwritev per host-contiguous run)
                long pos = i < 40 ? rnd.nextInt(8 * MIB - 300_000) : (rnd.nextInt(40) * 150_000L);
                byte[] data = DiskModel.randomBytes(rnd, 1 + rnd.nextInt(300_000));
                model.writeScattered(img, pos, data, rnd);
            }
            model.assertMatches(img, rnd);
            img.flush();
        }
        try (Qcow2Image img = Qcow2Image.openReadOnly(overlay)) {
            model.assertMatches(img, rnd);
        }
        assertArrayEquals(base, Files.readAllBytes(dir.resolve("base.raw")), "the backing file is never written");
    }

    @Test
    void discardedClustersAreReusedAfterAFlush() throws Exception {
        Path p = dir.resolve("d.qcow2");
        Qcow2Image.create(p, 64 * MIB, 65536);
        Random rnd = new Random(3);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            img.write(0, ByteBuffer.wrap(DiskModel.randomBytes(rnd, 16 * MIB)));
            img.flush();
            long full = Files.size(p);
            img.discard(0, 16 * MIB);
            img.flush();
            assertArrayEquals(new byte[4096], read(img, 5 * MIB, 4096));
            img.write(32 * MIB, ByteBuffer.wrap(DiskModel.randomBytes(rnd, 16 * MIB)));
            img.flush();
            assertTrue(Files.size(p) <= full + 2 * 65536,
                    "file grew from " + full + " to " + Files.size(p) + " instead of reusing clusters");
        }
    }

    @Test
    void concurrentReadersAndWritersSeeTheirOwnData() throws Exception {
        Path p = dir.resolve("d.qcow2");
        int regions = 8;
        int regionSize = 2 * MIB;
        Qcow2Image.create(p, (long) regions * regionSize, 4096);
        DiskModel model = new DiskModel(regions * regionSize);
        try (Qcow2Image img = Qcow2Image.open(p);
                ExecutorService pool = Executors.newFixedThreadPool(regions)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < regions; r++) {
                int region = r;
                futures.add(pool.submit(() -> {
                    Random rnd = new Random(100 + region);
                    long base = (long) region * regionSize;
                    for (int i = 0; i < 300; i++) {
                        int len = 1 + rnd.nextInt(20_000);
                        long off = base + rnd.nextInt(regionSize - len);
                        if (rnd.nextInt(8) == 0) {
                            img.writeZeroes(off, len, true);
                            synchronized (model) {
                                model.zero(off, len);
                            }
                        } else {
                            byte[] data = DiskModel.randomBytes(rnd, len);
                            img.write(off, ByteBuffer.wrap(data));
                            synchronized (model) {
                                model.write(off, data);
                            }
                        }
                        ByteBuffer back = ByteBuffer.allocate(len);
                        img.read(off, back);
                        byte[] expected;
                        synchronized (model) {
                            expected = java.util.Arrays.copyOfRange(model.bytes, (int) off, (int) off + len);
                        }
                        assertArrayEquals(expected, back.array(), "region " + region + " op " + i);
                        if (i % 50 == 0) {
                            img.flush();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
            model.assertMatches(img, new Random(1));
        }
        try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
            model.assertMatches(img, new Random(2));
        }
    }

    @Test
    void writeZeroesWithoutUnmapKeepsTheClusterAllocated() throws Exception {
        Path p = dir.resolve("d.qcow2");
        Qcow2Image.create(p, 4 * MIB, 65536);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            byte[] ones = new byte[65536 * 2];
            java.util.Arrays.fill(ones, (byte) 1);
            img.write(0, ByteBuffer.wrap(ones));
            img.flush();
            long before = Files.size(p);
            img.writeZeroes(0, 65536 * 2, false);
            assertArrayEquals(new byte[65536 * 2], read(img, 0, 65536 * 2));
            img.write(100, ByteBuffer.wrap(new byte[] {7}));
            img.flush();
            assertEquals(before, Files.size(p), "the preallocated zero cluster is reused in place");
            byte[] expected = new byte[200];
            expected[100] = 7;
            assertArrayEquals(expected, read(img, 0, 200));
        }
    }
}
