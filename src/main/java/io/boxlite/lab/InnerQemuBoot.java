package io.boxlite.lab;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The lab benchmark's reference: {@code qemu-system-x86_64 -accel kvm -M microvm} booting the
 * same kernel, initramfs and command line as our VMM, timed from process spawn to the marker line
 * on its serial console and to its exit ({@code -no-reboot}: the guest's reboot ends QEMU).
 */
final class InnerQemuBoot {
    /** Times in milliseconds from spawn; NaN when not reached. */
    record Result(double markerMillis, double exitMillis, int exitCode, String consoleTail) {
        boolean passed() {
            return !Double.isNaN(markerMillis) && !Double.isNaN(exitMillis);
        }
    }

    private InnerQemuBoot() {
    }

    static List<String> command(Path qemu, Path dataDir, Path kernel, Path initrd, int cpus, long memoryMib) {
        return List.of(qemu.toString(), "-L", dataDir.toString(),
                "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on", "-accel", "kvm", "-cpu", "host",
                "-smp", Integer.toString(cpus), "-m", Long.toString(memoryMib), "-nodefaults", "-no-user-config",
                "-nographic", "-serial", "stdio", "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-append", InnerBoot.BENCH_CMDLINE, "-no-reboot");
    }

    static Result run(List<String> command, Duration timeout, PrintStream echo) throws InterruptedException {
        ConsoleWatch watch = new ConsoleWatch(echo, "qemu| ", InnerBoot.MARKER);
        long t0 = System.nanoTime();
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.ENGINE, "cannot start " + command.getFirst() + ": " + e.getMessage(), e);
        }
        Thread pump = Thread.ofPlatform().name("lab-qemu-console").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    watch.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        boolean ended = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        long exitNanos = ended ? System.nanoTime() : 0;
        if (!ended) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        pump.join(5000);
        watch.close();
        Optional<String> marker = watch.markerLine();
        return new Result(marker.isPresent() ? InnerBoot.millis(t0, watch.markerNanos()) : Double.NaN,
                InnerBoot.millis(t0, exitNanos), ended ? p.exitValue() : -1, watch.lastLines());
    }
}
