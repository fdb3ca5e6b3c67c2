package io.boxlite.runtime.disk;

import io.boxlite.disk.DiskImage;
import io.boxlite.disk.qcow2.BackingFormat;
import io.boxlite.disk.qcow2.Qcow2Image;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A box's writable root disk: {@code boxes/{id}/disk.qcow2}, a qcow2 overlay backed by its
 * image's read-only ext4 base ({@code images/rootfs/<hex>.ext4}, built by
 * {@link io.boxlite.rootfs.RootfsBuilder}). Made when the box first starts and kept, with what the
 * box wrote, until the box is removed.
 */
public final class BoxDisks {
    /** The disk's file name in the box directory. */
    public static final String DISK = "disk.qcow2";

    private BoxDisks() {
    }

    public static Path diskPath(Path boxDir) {
        return boxDir.resolve(DISK);
    }

    /** Whether the box already has its disk. */
    public static boolean exists(Path boxDir) {
        return Files.isRegularFile(diskPath(boxDir));
    }

    /** Makes the box's overlay on {@code base} (staged, so it exists whole or not at all). */
    public static void prepare(Path boxDir, Path base) {
        Qcow2Image.createOverlay(diskPath(boxDir), base.toAbsolutePath().toString(), BackingFormat.RAW);
    }

    /** Opens the box's disk for its VM (which then owns it). */
    public static DiskImage open(Path boxDir) {
        return Qcow2Image.open(diskPath(boxDir));
    }
}
