package io.boxlite.engine.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A process as the kernel knows it: PID plus start time (clock ticks since boot, field 22 of
 * {@code /proc/PID/stat}) plus the boot id. Together they never name two processes.
 */
public record ProcessIdentity(long pid, long startTicks, String bootId) {
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

    public static Optional<ProcessIdentity> of(long pid) {
        return readStartTicks(pid).map(ticks -> new ProcessIdentity(pid, ticks, currentBootId()));
    }

    /** Whether the very same process is still running. */
    public boolean isStillRunning() {
        return bootId.equals(currentBootId()) && readStartTicks(pid).map(t -> t == startTicks).orElse(false);
    }

    public String encode() {
        return pid + " " + startTicks + " " + bootId + "\n";
    }

    public static Optional<ProcessIdentity> decode(String text) {
        String[] f = text.strip().split(" ");
        if (f.length != 3) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ProcessIdentity(Long.parseLong(f[0]), Long.parseLong(f[1]), f[2]));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    static Optional<Long> readStartTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // The command name (field 2) is in parentheses and may contain spaces: count after ')'.
            String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Optional.of(Long.parseLong(rest[19])); // field 22 overall
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static String currentBootId() {
        try {
            return Files.readString(BOOT_ID).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
