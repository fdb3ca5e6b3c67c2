package io.boxlite.runtime.disk;

import io.boxlite.InvalidArgumentException;
import io.boxlite.disk.DiskImage;
import io.boxlite.disk.qcow2.BackingFormat;
import io.boxlite.disk.qcow2.Qcow2Image;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A box's writable root disk: {@code boxes/{id}/disk.qcow2}, a qcow2 overlay backed by its
 * image's read-only ext4 base ({@code images/rootfs/<hex>.ext4}, built by
 * {@link io.boxlite.rootfs.RootfsBuilder}). Made when the box first starts and kept, with what the
 * box wrote, until the box is removed. Its virtual size is the base's, or {@code diskSizeGb} GiB
 * when the box asks for more; the guest agent then grows the ext4 to fill it at boot.
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

    /** One GiB, the unit of {@code diskSizeGb} (as BoxLite's {@code disk_size_gb}). */
    public static final long GIB = 1L << 30;

    /**
     * The virtual size of a box disk over a base of {@code baseBytes}: {@code diskSizeGb} GiB, or
     * the base's own size when {@code diskSizeGb} is 0.
     *
     * @throws InvalidArgumentException naming {@code diskSizeGb} if it is smaller than the base
     */
    public static long virtualSize(long diskSizeGb, long baseBytes, String image) {
        if (diskSizeGb == 0) {
            return baseBytes;
        }
        long bytes = Math.multiplyExact(diskSizeGb, GIB);
        if (bytes < baseBytes) {
            long least = (baseBytes + GIB - 1) / GIB;
            throw new InvalidArgumentException("diskSizeGb: " + diskSizeGb + " GiB is smaller than the root "
                    + "filesystem of " + image + " (" + (baseBytes >> 20) + " MiB) and a disk cannot shrink it: "
                    + "choose at least " + least + ", or 0 for the image's size");
        }
        return bytes;
    }

    /**
     * Makes the box's overlay on {@code base}, {@code virtualSize} bytes large (staged, so it
     * exists whole or not at all). The base is recorded relative to the box directory
     * ({@code ../../images/rootfs/<hex>.ext4}), as QEMU resolves it too, so the whole home can move.
     */
    public static void prepare(Path boxDir, Path base, long virtualSize) {
        Qcow2Image.createOverlay(diskPath(boxDir), backingName(boxDir, base), BackingFormat.RAW, virtualSize);
    }

    /** {@code base} as the overlay in {@code boxDir} names it: relative to that directory. */
    static String backingName(Path boxDir, Path base) {
        return boxDir.toAbsolutePath().normalize().relativize(base.toAbsolutePath().normalize()).toString();
    }

    /**
     * What the guest agent (PID 1) logged on a boot's console when it could not grow the root
     * filesystem to the disk ({@code root filesystem: cannot grow it: …}); empty if it grew, had
     * nothing to do, or the console cannot be read. The guest's words are only reported, never
     * acted on.
     */
    public static List<String> growthFailures(Path consoleLog) {
        try (var lines = Files.lines(consoleLog, StandardCharsets.UTF_8)) {
            return lines.filter(l -> l.contains(AGENT_PID1 + GROWTH_FAILED))
                    .map(l -> l.substring(l.indexOf(GROWTH_FAILED)).strip()).toList();
        } catch (IOException | UncheckedIOException e) {
            return List.of();
        }
    }

    private static final String AGENT_PID1 = "boxlite-agent[1]: ";
    private static final String GROWTH_FAILED = "root filesystem: cannot grow it";

    /** Opens the box's disk for its VM (which then owns it). */
    public static DiskImage open(Path boxDir) {
        return Qcow2Image.open(diskPath(boxDir));
    }
}
