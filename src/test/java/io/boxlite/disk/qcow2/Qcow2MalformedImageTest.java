package io.boxlite.disk.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.BoxliteException;
import io.boxlite.NotFoundException;
import io.boxlite.StorageException;
import io.boxlite.UnsupportedException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Damaged and hostile images give clear errors, never index or arithmetic exceptions. */
class Qcow2MalformedImageTest {
    private static final int CS = 65536;
    // layout written by Qcow2Creator for 64 KiB clusters: header, refcount table, block, L1
    private static final long REFTABLE = CS;
    private static final long REFBLOCK = 2L * CS;
    private static final long L1 = 3L * CS;

    @TempDir
    Path dir;

    private Path image() {
        Path p = dir.resolve("m" + System.nanoTime() + ".qcow2");
        Qcow2Image.create(p, 64L << 20, CS);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            img.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
        }
        return p;
    }

    private static void patch(Path p, long offset, ByteBuffer bytes) {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.write(bytes, offset);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void patchInt(Path p, long offset, int v) {
        patch(p, offset, ByteBuffer.allocate(4).putInt(0, v));
    }

    private static void patchLong(Path p, long offset, long v) {
        patch(p, offset, ByteBuffer.allocate(8).putLong(0, v));
    }

    private <T extends BoxliteException> T refused(Class<T> type, Consumer<Path> damage, String expected) {
        Path p = image();
        damage.accept(p);
        T e = assertThrows(type, () -> Qcow2Image.openReadOnly(p).close());
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' names " + expected);
        return e;
    }

    @Test
    void aTruncatedHeaderIsReported() throws IOException {
        Path p = dir.resolve("short.qcow2");
        Files.write(p, new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        StorageException e = assertThrows(StorageException.class, () -> Qcow2Image.openReadOnly(p));
        assertTrue(e.getMessage().contains("too short"), e.getMessage());
    }

    @Test
    void headerFieldsAreValidated() {
        refused(StorageException.class, p -> patchInt(p, 0, 0x12345678), "bad magic");
        refused(UnsupportedException.class, p -> patchInt(p, 4, 4), "version 4");
        refused(StorageException.class, p -> patchInt(p, 20, 30), "cluster_bits 30");
        refused(StorageException.class, p -> patchInt(p, 20, 8), "cluster_bits 8");
        refused(UnsupportedException.class, p -> patchInt(p, 32, 2), "encrypted");
        refused(StorageException.class, p -> patchInt(p, 96, 7), "refcount_order 7");
        refused(StorageException.class, p -> patchInt(p, 100, 105), "header_length");
        refused(StorageException.class, p -> patchLong(p, 24, Long.MAX_VALUE - 511), "cannot map");
        refused(StorageException.class, p -> patchLong(p, 24, -512), "absurd");
        refused(StorageException.class, p -> patchInt(p, 36, 1 << 30), "absurdly large");
        refused(StorageException.class, p -> patchLong(p, 40, 1L << 40), "L1 table");
        refused(StorageException.class, p -> patchLong(p, 40, L1 + 8), "L1 table offset");
        refused(StorageException.class, p -> patchLong(p, 48, 1L << 40), "refcount table");
        refused(StorageException.class, p -> patchInt(p, 56, 0), "refcount table of 0 clusters");
    }

    @Test
    void unknownIncompatibleFeaturesAreNamed() {
        refused(UnsupportedException.class, p -> patchLong(p, 72, 1L << 9), "bit 9");
        refused(UnsupportedException.class, p -> patchLong(p, 72, 1L << 4), "extended L2 entries");
        refused(UnsupportedException.class, p -> patchLong(p, 72, 1L << 2), "external data file");
        refused(UnsupportedException.class, p -> patchLong(p, 72, 1L << 3), "compression type");
        // the feature name table written at create names bit 1 and 0; an unknown bit named there is quoted
        UnsupportedException e = refused(UnsupportedException.class, p -> {
            patchLong(p, 72, 1L << 7);
            // rename the table's entry for incompatible bit 0 to bit 7
            patch(p, 112 + 8 + 1, ByteBuffer.wrap(new byte[] {7}));
        }, "bit 7 (dirty bit)");
        assertTrue(e.getMessage().contains("newer"), e.getMessage());
    }

    @Test
    void dirtyAndCorruptImagesOpenOnlyReadOnly() {
        for (long bit : new long[] {1, 2}) {
            Path p = image();
            patchLong(p, 72, bit);
            StorageException e = assertThrows(StorageException.class, () -> Qcow2Image.open(p));
            assertTrue(e.getMessage().contains("qemu-img check -r all"), e.getMessage());
            try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
                ByteBuffer b = ByteBuffer.allocate(4);
                img.read(0, b);
                assertEquals(ByteBuffer.wrap(new byte[] {1, 2, 3, 4}), b.flip());
            }
        }
    }

    @Test
    void anL1EntryPastTheEndOfTheFileIsReported() {
        refused(StorageException.class, p -> patchLong(p, L1, Entries.COPIED | (1L << 40)), "past the end");
        refused(StorageException.class, p -> patchLong(p, L1, Entries.COPIED | (1L << 60)), "reserved bits");
        refused(StorageException.class, p -> patchLong(p, L1, Entries.COPIED | 4 * CS + 512), "unaligned");
    }

    @Test
    void refcountStructuresThatLoopOrOverlapAreRefusedForWriting() {
        Path p = image();
        patchLong(p, REFTABLE, REFTABLE); // the refcount table counts itself as a block
        StorageException e = assertThrows(StorageException.class, () -> Qcow2Image.open(p));
        assertTrue(e.getMessage().contains("loop"), e.getMessage());
        Qcow2Image.openReadOnly(p).close(); // refcounts do not matter for reading

        Path q = image();
        patchLong(q, REFTABLE + 8, REFBLOCK); // two table entries share one block
        e = assertThrows(StorageException.class, () -> Qcow2Image.open(q));
        assertTrue(e.getMessage().contains("overlaps"), e.getMessage());

        Path r = image();
        patchLong(r, REFTABLE, 1L << 40);
        e = assertThrows(StorageException.class, () -> Qcow2Image.open(r));
        assertTrue(e.getMessage().contains("past the end"), e.getMessage());

        Path s = image();
        patchLong(s, L1, Entries.COPIED | L1); // the L1 table doubles as an L2 table
        e = assertThrows(StorageException.class, () -> Qcow2Image.open(s));
        assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
    }

    @Test
    void anL2EntryPointingAtMetadataIsNeverWrittenThrough() throws IOException {
        Path p = image();
        long l2 = ByteBuffer.wrap(Files.readAllBytes(p), (int) L1, 8).getLong() & Entries.OFFSET_MASK;
        patchLong(p, l2, Entries.COPIED | REFBLOCK); // guest cluster 0 "is" the refcount block
        byte[] before = Files.readAllBytes(p);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            StorageException e = assertThrows(StorageException.class,
                    () -> img.write(0, ByteBuffer.wrap(new byte[] {9})));
            assertTrue(e.getMessage().contains("refcount block"), e.getMessage());
        }
        byte[] after = Files.readAllBytes(p);
        assertEquals(ByteBuffer.wrap(before, (int) REFBLOCK, CS), ByteBuffer.wrap(after, (int) REFBLOCK, CS));
    }

    @Test
    void damagedCompressedDataIsReported() throws IOException {
        Path p = image();
        long l2 = ByteBuffer.wrap(Files.readAllBytes(p), (int) L1, 8).getLong() & Entries.OFFSET_MASK;
        long dataAt = Files.size(p);
        patch(p, dataAt, ByteBuffer.wrap(new byte[] {(byte) 0xff, (byte) 0xff, 0x12, 0x34}));
        int x = 62 - (16 - 8);
        patchLong(p, l2, Entries.COMPRESSED | dataAt);
        try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
            StorageException e = assertThrows(StorageException.class, () -> img.read(0, ByteBuffer.allocate(512)));
            assertTrue(e.getMessage().contains("compressed cluster"), e.getMessage());
        }
        patchLong(p, l2, Entries.COMPRESSED | (3L << x) | (1L << 50)); // far past EOF: zeros, too short
        try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
            StorageException e = assertThrows(StorageException.class, () -> img.read(0, ByteBuffer.allocate(512)));
            assertTrue(e.getMessage().contains("compressed cluster"), e.getMessage());
        }
    }

    @Test
    void backingChainsThatLoopAreTooDeepOrMissingAreReported() {
        Path a = dir.resolve("a.qcow2");
        Path b = dir.resolve("b.qcow2");
        Qcow2Image.create(dir.resolve("seed.qcow2"), 1 << 20, CS);
        Qcow2Image.createOverlay(a, "seed.qcow2", BackingFormat.QCOW2);
        Qcow2Image.createOverlay(b, "a.qcow2", BackingFormat.QCOW2);
        // point a back at b: a -> b -> a
        byte[] name = "b.qcow2".getBytes();
        Qcow2Header h;
        try (Qcow2Image img = Qcow2Image.openReadOnly(a)) {
            h = img.header();
        }
        patch(a, h.backingFileOffset(), ByteBuffer.wrap(name));
        patchInt(a, 16, name.length);
        StorageException e = assertThrows(StorageException.class, () -> Qcow2Image.openReadOnly(b));
        assertTrue(e.getMessage().contains("loops"), e.getMessage());

        Path prev = dir.resolve("seed.qcow2");
        for (int i = 0; i <= Qcow2Image.MAX_CHAIN; i++) {
            Path next = dir.resolve("c" + i + ".qcow2");
            Qcow2Image.create(next, 1 << 20, CS);
            patchBacking(next, prev.getFileName().toString());
            prev = next;
        }
        Path deepest = prev;
        e = assertThrows(StorageException.class, () -> Qcow2Image.openReadOnly(deepest));
        assertTrue(e.getMessage().contains("deeper than"), e.getMessage());

        Path orphan = dir.resolve("orphan.qcow2");
        Qcow2Image.create(orphan, 1 << 20, CS);
        patchBacking(orphan, "gone.raw");
        NotFoundException nf = assertThrows(NotFoundException.class, () -> Qcow2Image.openReadOnly(orphan));
        assertTrue(nf.getMessage().contains("gone.raw"), nf.getMessage());
    }

    /** Points an image without backing file at {@code name}, placed in the header cluster's tail. */
    private static void patchBacking(Path p, String name) {
        byte[] n = name.getBytes();
        long at = CS - 1024;
        patch(p, at, ByteBuffer.wrap(n));
        patchLong(p, 8, at);
        patchInt(p, 16, n.length);
    }

    @Test
    void randomlyCorruptedMetadataNeverEscapesAsAnUncheckedJdkException() throws IOException {
        Random rnd = new Random(1234);
        Path good = image();
        try (Qcow2Image img = Qcow2Image.open(good)) {
            img.write(5L << 20, ByteBuffer.wrap(DiskModel.randomBytes(rnd, 3 << 20)));
        }
        byte[] pristine = Files.readAllBytes(good);
        long[] regions = {0, REFTABLE, REFBLOCK, L1};
        int clean = 0;
        for (int round = 0; round < 300; round++) {
            byte[] bad = pristine.clone();
            long region = regions[rnd.nextInt(regions.length)];
            int span = region == 0 ? 120 : 64;
            for (int k = 0; k < 1 + rnd.nextInt(4); k++) {
                bad[(int) region + rnd.nextInt(span)] = (byte) rnd.nextInt(256);
            }
            Path p = dir.resolve("fuzz.qcow2");
            Files.write(p, bad);
            try (Qcow2Image img = rnd.nextBoolean() ? Qcow2Image.open(p) : Qcow2Image.openReadOnly(p)) {
                long size = img.size();
                for (int i = 0; i < 8 && size > 0; i++) {
                    int n = (int) Math.min(size, 1 + rnd.nextInt(200_000));
                    long off = Math.floorMod(rnd.nextLong(), size - n + 1);
                    img.read(off, ByteBuffer.allocate(n));
                    if (!img.readOnly()) {
                        img.write(off, ByteBuffer.wrap(DiskModel.randomBytes(rnd, Math.min(n, 5000))));
                    }
                }
                clean++;
            } catch (BoxliteException expected) {
                assertTrue(expected.getMessage() != null && !expected.getMessage().isBlank());
            } catch (IllegalArgumentException expected) {
                // only from our own range checks against a corrupted size
                assertTrue(expected.getMessage().contains("outside the disk"), expected.getMessage());
            }
        }
        assertTrue(clean > 0, "some rounds touch unimportant bytes and must still work");
    }
}
