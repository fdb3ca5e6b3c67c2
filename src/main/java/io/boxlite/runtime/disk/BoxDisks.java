package io.boxlite.runtime.disk;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.disk.DiskImage;
import io.boxlite.disk.RawDiskImage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A box's writable root disk, made from its image's ext4 base when the box is first started and
 * kept (with what the box wrote) until the box is removed.
 *
 * <p>Stopgap: a sparse raw copy of the base ({@value #DISK}), grown with {@code resize2fs} when
 * {@code diskSizeGb} asks for more. The final form is {@code disk.qcow2}, a qcow2 overlay backed
 * by the base, once the qcow2 engine lands; only this class changes then.
 */
public final class BoxDisks {
    /** The disk's file name in the box directory. */
    public static final String DISK = "disk.raw";
    private static final long GB = 1_000_000_000L;

    private BoxDisks() {
    }

    public static Path diskPath(Path boxDir) {
        return boxDir.resolve(DISK);
    }

    /** Whether the box already has its disk. */
    public static boolean exists(Path boxDir) {
        return Files.isRegularFile(diskPath(boxDir));
    }

    /** Makes the box's disk from {@code base}; at least {@code diskSizeGb} GB when that is positive. */
    public static void prepare(Path boxDir, Path base, long diskSizeGb) {
        Path disk = diskPath(boxDir);
        Path partial = boxDir.resolve(DISK + ".partial");
        try {
            Files.deleteIfExists(partial);
            Ext4Bases.run(List.of("cp", "--sparse=always", "--reflink=auto", base.toString(), partial.toString()), "cp");
            long want = diskSizeGb * GB;
            if (diskSizeGb > 0 && want > Files.size(partial)) {
                try (var ch = java.nio.channels.FileChannel.open(partial, java.nio.file.StandardOpenOption.WRITE)) {
                    ch.write(java.nio.ByteBuffer.allocate(1), want - 1);
                }
                Ext4Bases.run(List.of("e2fsck", "-f", "-p", partial.toString()), "e2fsck");
                Ext4Bases.run(List.of("resize2fs", "-f", partial.toString()), "resize2fs");
            }
            Files.move(partial, disk, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException ignored) {
                // reported below
            }
            boolean full = e.getMessage() != null && (e.getMessage().contains("No space left")
                    || e.getMessage().contains("disk is full"));
            throw new BoxliteException(full ? ErrorCode.RESOURCE_EXHAUSTED : ErrorCode.STORAGE,
                    "Cannot create the box's disk " + disk + ": " + e.getMessage()
                            + (full ? "; free space in the BoxLite home and retry" : ""), e);
        }
    }

    /** Opens the box's disk for its VM. */
    public static DiskImage open(Path boxDir) {
        return RawDiskImage.open(diskPath(boxDir), false);
    }
}
