package io.boxlite.disk.qcow2;

import io.boxlite.AlreadyExistsException;
import io.boxlite.InvalidArgumentException;
import io.boxlite.StorageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes new, empty version 3 images: header (+ backing format and feature name table
 * extensions, + backing file name), refcount table, refcount blocks, L1 table, laid out in that
 * order from cluster 0 as qemu-img does. Staged in a hidden file beside the target, synced, and
 * linked into place so the target never exists half-written and is never overwritten.
 */
final class Qcow2Creator {
    private static final int HEADER_LENGTH = 112;
    private static final int REFCOUNT_ORDER = 4;
    private static final String[][] FEATURES = {
        {"0", "0", "dirty bit"}, {"0", "1", "corrupt bit"}, {"0", "2", "external data file"},
        {"0", "3", "compression type"}, {"0", "4", "extended L2 entries"}, {"1", "0", "lazy refcounts"},
        {"2", "0", "bitmaps"}, {"2", "1", "raw external data"},
    };

    private Qcow2Creator() {}

    static void createOverlay(Path path, String backingPath, BackingFormat format, long virtualSize,
            int clusterSize) {
        if (backingPath == null || backingPath.isEmpty()) {
            throw new InvalidArgumentException("Backing file path is empty");
        }
        if (format == null) {
            throw new InvalidArgumentException("Backing file format is required (raw or qcow2)");
        }
        Path resolved = Qcow2Image.resolveBacking(path, backingPath);
        long backingSize;
        if (format == BackingFormat.QCOW2) {
            // opening checks the whole chain now rather than at first boot
            try (Qcow2Image b = Qcow2Image.open(resolved, true, 1, new HashSet<>())) {
                backingSize = b.size();
            }
        } else {
            try (ImageFile f = ImageFile.open(resolved, false)) {
                backingSize = f.size();
            }
        }
        long size = virtualSize < 0 ? (backingSize + 511) & ~511L : virtualSize;
        create(path, size, clusterSize, backingPath, format);
    }

    static void create(Path path, long virtualSize, int clusterSize, String backing, BackingFormat format) {
        if (virtualSize <= 0 || virtualSize % 512 != 0) {
            throw new InvalidArgumentException("Virtual size " + virtualSize
                    + " must be a positive multiple of 512 bytes");
        }
        if (Integer.bitCount(clusterSize) != 1 || clusterSize < 512 || clusterSize > (2 << 20)) {
            throw new InvalidArgumentException("Cluster size " + clusterSize
                    + " must be a power of two from 512 bytes to 2 MiB");
        }
        byte[] backingName = backing == null ? null : backing.getBytes(StandardCharsets.UTF_8);
        if (backingName != null && backingName.length > Qcow2Header.MAX_BACKING_NAME) {
            throw new InvalidArgumentException("Backing file path is longer than 1023 bytes");
        }
        int clusterBits = Integer.numberOfTrailingZeros(clusterSize);
        long l2Entries = clusterSize / 8;
        long l1Size = (virtualSize - 1) / (clusterSize * l2Entries) + 1;
        if (l1Size * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new InvalidArgumentException("Virtual size " + virtualSize
                    + " needs an L1 table over 32 MiB; use a larger cluster size");
        }
        long l1Clusters = (l1Size * 8 + clusterSize - 1) / clusterSize;
        long blockEntries = (long) clusterSize * 8 / (1 << REFCOUNT_ORDER);
        long tableClusters = 1;
        long blocks = 1;
        while (true) {
            long total = 1 + tableClusters + blocks + l1Clusters;
            long needBlocks = (total + blockEntries - 1) / blockEntries;
            long needTable = (needBlocks * 8 + clusterSize - 1) / clusterSize;
            if (needBlocks == blocks && needTable == tableClusters) {
                break;
            }
            blocks = needBlocks;
            tableClusters = needTable;
        }
        long total = 1 + tableClusters + blocks + l1Clusters;
        long tableOffset = (long) clusterSize;
        long blocksOffset = tableOffset + tableClusters * clusterSize;
        long l1Offset = blocksOffset + blocks * clusterSize;

        ByteBuffer hdr = header(clusterSize, clusterBits, virtualSize, l1Size, l1Offset, tableOffset,
                tableClusters, backingName, format);
        ByteBuffer table = ByteBuffer.allocate(Math.toIntExact(tableClusters * clusterSize)).order(ByteOrder.BIG_ENDIAN);
        for (long i = 0; i < blocks; i++) {
            table.putLong((int) (i * 8), blocksOffset + i * clusterSize);
        }
        ByteBuffer refblocks = ByteBuffer.allocate(Math.toIntExact(blocks * clusterSize)).order(ByteOrder.BIG_ENDIAN);
        for (long c = 0; c < total; c++) {
            refblocks.putShort((int) (c * 2), (short) 1);
        }
        stageAndLink(path, ch -> {
            write(ch, 0, hdr);
            write(ch, tableOffset, table);
            write(ch, blocksOffset, refblocks);
            // the L1 table is all zeros: extending the file is enough
            write(ch, total * clusterSize - 1, ByteBuffer.allocate(1));
        });
    }

    private static ByteBuffer header(int clusterSize, int clusterBits, long size, long l1Size, long l1Offset,
            long tableOffset, long tableClusters, byte[] backingName, BackingFormat format) {
        ByteBuffer b = ByteBuffer.allocate(clusterSize).order(ByteOrder.BIG_ENDIAN);
        b.putInt(Qcow2Header.MAGIC).putInt(3);
        b.putLong(0).putInt(0); // backing offset and size, filled below
        b.putInt(clusterBits).putLong(size).putInt(0); // crypt_method 0
        b.putInt((int) l1Size).putLong(l1Offset).putLong(tableOffset).putInt((int) tableClusters);
        b.putInt(0).putLong(0); // no snapshots
        b.putLong(0).putLong(0).putLong(0); // incompatible, compatible, autoclear features
        b.putInt(REFCOUNT_ORDER).putInt(HEADER_LENGTH);
        b.put((byte) 0); // compression_type zlib, then padding to 112
        b.position(HEADER_LENGTH);
        if (format != null) {
            byte[] name = format.qemuName().getBytes(StandardCharsets.US_ASCII);
            b.putInt(Qcow2Header.EXT_BACKING_FORMAT).putInt(name.length).put(name);
            pad(b);
        }
        int tableBytes = FEATURES.length * 48;
        int backingBytes = backingName == null ? 0 : backingName.length;
        if (b.position() + 8 + tableBytes + 8 + backingBytes <= clusterSize) {
            b.putInt(Qcow2Header.EXT_FEATURE_TABLE).putInt(tableBytes);
            for (String[] f : FEATURES) {
                int start = b.position();
                b.put((byte) Integer.parseInt(f[0])).put((byte) Integer.parseInt(f[1]));
                b.put(f[2].getBytes(StandardCharsets.US_ASCII));
                b.position(start + 48);
            }
        }
        b.putInt(Qcow2Header.EXT_END).putInt(0);
        if (backingName != null) {
            if (b.position() + backingName.length > clusterSize) {
                throw new InvalidArgumentException("Backing file path does not fit in the "
                        + clusterSize + "-byte header cluster; use a larger cluster size");
            }
            b.putLong(8, b.position()).putInt(16, backingName.length);
            b.put(backingName);
        }
        return b.position(0);
    }

    private static void pad(ByteBuffer b) {
        b.position((b.position() + 7) & ~7);
    }

    private interface ChannelWriter {
        void accept(FileChannel ch) throws IOException;
    }

    private static void write(FileChannel ch, long pos, ByteBuffer buf) throws IOException {
        ByteBuffer b = buf.duplicate();
        long p = pos;
        while (b.hasRemaining()) {
            p += ch.write(b, p);
        }
    }

    /** Writes a hidden sibling, syncs it, links it to {@code path} (never replacing), syncs the directory. */
    private static void stageAndLink(Path path, ChannelWriter content) {
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new AlreadyExistsException("Disk image " + path + " already exists");
        }
        Path staged = dir.resolve("." + target.getFileName() + ".staging-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            try (FileChannel ch = FileChannel.open(staged, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                content.accept(ch);
                ch.force(true);
            }
            try {
                Files.createLink(target, staged);
                Files.delete(staged);
            } catch (FileAlreadyExistsException e) {
                throw new AlreadyExistsException("Disk image " + path + " already exists", e);
            } catch (UnsupportedOperationException | IOException e) {
                if (Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    throw new AlreadyExistsException("Disk image " + path + " already exists", e);
                }
                // no hard links on this filesystem: an atomic rename is the next best
                Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            }
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
        } catch (IOException e) {
            throw new StorageException("Cannot create disk image " + path + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(staged);
            } catch (IOException ignored) {
                // a leftover hidden file is harmless
            }
        }
    }
}
