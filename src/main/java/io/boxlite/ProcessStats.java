package io.boxlite;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** CPU and memory of a host process, from {@code /proc}. */
final class ProcessStats {
    private static final long TICKS = 100; // USER_HZ on Linux
    private static final long PAGE = 4096;

    private ProcessStats() {
    }

    /** Average CPU use since the process started, in percent of one CPU. */
    static Optional<Double> cpuPercent(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long cpuTicks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime
            long startTicks = Long.parseLong(f[19]);
            double uptime = Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
            double alive = uptime - (double) startTicks / TICKS;
            return alive <= 0 ? Optional.empty() : Optional.of(100.0 * cpuTicks / TICKS / alive);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Resident set size in bytes. */
    static Optional<Long> residentBytes(long pid) {
        try {
            String[] f = Files.readString(Path.of("/proc/" + pid + "/statm")).strip().split(" ");
            return Optional.of(Long.parseLong(f[1]) * PAGE);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
