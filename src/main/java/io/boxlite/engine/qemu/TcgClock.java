package io.boxlite.engine.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Kernel arguments that let a Linux guest boot reliably under TCG on a busy host.
 *
 * <p>Under TCG the guest's TSC follows the host's, but the kernel calibrates it against the
 * emulated PIT, and when the host is loaded that calibration fails ("Unable to calibrate
 * against PIT"); the boot then stalls for minutes in timer setup. Seen here at load average 9:
 * the Debian kernel printed nothing past it in 90 s, while with the frequency given up front it
 * booted to user space in 14 s. So the TSC frequency is passed explicitly
 * ({@code tsc_early_khz}) and delay-loop calibration is skipped ({@code lpj}).
 */
public final class TcgClock {
    private static final int HZ = 250; // Debian's CONFIG_HZ
    private static final long FALLBACK_KHZ = 2_000_000;

    private TcgClock() {
    }

    /** {@code tsc_early_khz=… lpj=…} for this host. */
    public static String kernelArguments() {
        long khz = hostTscKhz().orElse(FALLBACK_KHZ);
        return "tsc_early_khz=" + khz + " lpj=" + khz * 1000 / HZ;
    }

    static Optional<Long> hostTscKhz() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("cpu MHz")) {
                    double mhz = Double.parseDouble(line.substring(line.indexOf(':') + 1).strip());
                    return mhz > 0 ? Optional.of(Math.round(mhz * 1000)) : Optional.empty();
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall back below
        }
        return Optional.empty();
    }
}
