package io.boxlite.lab;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.engine.qemu.TcgClock;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Boots the lab's outer guest under QEMU TCG ({@code -cpu max}: emulated SVM, so KVM inside is
 * real) and reads the verdicts from its serial console, which goes to a log file. The run ends
 * when the guest prints {@code LAB-DONE} and powers off; it is cut short when nothing appears on
 * the console for {@link Settings#stallTimeout} or the whole run exceeds its deadline (both
 * count as a stall). {@link #runWithRetry} runs once more after a stall (nested emulation stalls
 * about one boot in 30), keeping the first log beside the second.
 */
public final class LabRun {
    /** How the outer guest runs. */
    public record Settings(Path qemu, int cpus, long memoryMib, Duration deadline, Duration stallTimeout) {
        public static Settings defaults(Duration deadline) {
            return new Settings(LabImage.QEMU, 2, 2560, deadline, Duration.ofSeconds(420));
        }
    }

    /** One phase's verdict line. */
    public record Verdict(String phase, boolean passed, String facts) {
    }

    /**
     * What one outer run produced. {@code completed}: the guest reached LAB-DONE; otherwise
     * {@code problem} says why not.
     */
    public record Report(boolean completed, String problem, List<Verdict> verdicts, List<String> benchLines,
                         Path log, Duration wall, int attempts, String hostLoadBefore, String hostLoadAfter) {
        public Optional<Verdict> verdict(String phase) {
            return verdicts.stream().filter(v -> v.phase().equals(phase)).findFirst();
        }

        /** The whole console log (outer and inner), for failure messages. */
        public String console() {
            try {
                return Files.readString(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(cannot read " + log + ": " + e.getMessage() + ")";
            }
        }
    }

    private LabRun() {
    }

    /** The outer kernel command line: quiet, the TSC trusted and given (TCG), the phases to run. */
    static String cmdline(List<String> phases) {
        return "console=ttyS0 quiet panic=-1 tsc=reliable " + TcgClock.kernelArguments() + " boxlite.lab="
                + String.join(",", phases);
    }

    static List<String> command(Settings s, Path kernel, Path image, List<String> phases) {
        return List.of(s.qemu().toString(), "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
                "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", Integer.toString(s.cpus()),
                "-m", Long.toString(s.memoryMib()), "-nodefaults", "-no-user-config", "-nographic",
                "-serial", "stdio", "-kernel", kernel.toString(), "-initrd", image.toString(),
                "-append", cmdline(phases), "-no-reboot");
    }

    /** Runs the lab; if the first run stalls, runs it once more. {@code progress} sees each console line. */
    public static Report runWithRetry(Settings s, Path kernel, Path image, List<String> phases, Path log,
                                      Consumer<String> progress) throws InterruptedException {
        Report first = run(s, kernel, image, phases, log, progress);
        if (first.completed()) {
            return first;
        }
        Path firstLog = log.resolveSibling(log.getFileName() + ".stalled");
        try {
            Files.move(first.log(), firstLog, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.STORAGE, "cannot keep the stalled lab log " + log, e);
        }
        progress.accept("LAB-HARNESS the outer run stalled (" + first.problem() + "); its log is " + firstLog
                + "; retrying once");
        Report second = run(s, kernel, image, phases, log, progress);
        return new Report(second.completed(), second.completed() ? null
                : "stalled twice: first " + first.problem() + "; then " + second.problem(), second.verdicts(),
                second.benchLines(), second.log(), first.wall().plus(second.wall()), 2, first.hostLoadBefore(),
                second.hostLoadAfter());
    }

    /** One outer run: QEMU's console goes to {@code log}; returns once the guest finished or was killed. */
    public static Report run(Settings s, Path kernel, Path image, List<String> phases, Path log,
                             Consumer<String> progress) throws InterruptedException {
        String loadBefore = hostLoad();
        long t0 = System.nanoTime();
        Process p;
        try {
            Files.createDirectories(log.toAbsolutePath().getParent());
            p = new ProcessBuilder(command(s, kernel, image, phases)).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.ENGINE, "cannot start " + s.qemu() + " for the lab: " + e.getMessage(), e);
        }
        Process qemu = p;
        Thread reaper = new Thread(qemu::destroyForcibly, "lab-qemu-reaper"); // no orphaned QEMU if we are killed
        Runtime.getRuntime().addShutdownHook(reaper);
        List<Verdict> verdicts = new ArrayList<>();
        List<String> bench = new ArrayList<>();
        boolean done = false;
        String problem = null;
        long lastOutput = System.nanoTime();
        long deadline = t0 + s.deadline().toNanos();
        try (RandomAccessFile in = new RandomAccessFile(log.toFile(), "r")) {
            StringBuilder partial = new StringBuilder();
            byte[] buf = new byte[64 << 10];
            while (true) {
                int n = in.read(buf);
                if (n > 0) {
                    lastOutput = System.nanoTime();
                    partial.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                    int nl;
                    while ((nl = partial.indexOf("\n")) >= 0) {
                        String line = partial.substring(0, nl).replace("\r", "");
                        partial.delete(0, nl + 1);
                        progress.accept(line);
                        parse(line, verdicts, bench);
                        done |= line.startsWith("LAB-DONE");
                    }
                    continue;
                }
                if (!p.isAlive()) {
                    if (!done) {
                        problem = "QEMU exited (status " + p.exitValue() + ") before LAB-DONE";
                    }
                    break;
                }
                long now = System.nanoTime();
                if (now - lastOutput > s.stallTimeout().toNanos()) {
                    problem = "no console output for " + s.stallTimeout().toSeconds() + " s";
                    break;
                }
                if (now > deadline) {
                    problem = "the run exceeded its deadline of " + s.deadline().toSeconds() + " s";
                    break;
                }
                Thread.sleep(200);
            }
        } catch (IOException e) {
            problem = "reading the console log failed: " + e.getMessage();
        } finally {
            if (p.isAlive() && !p.waitFor(done ? 30 : 0, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            try {
                Runtime.getRuntime().removeShutdownHook(reaper);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
        Duration wall = Duration.ofNanos(System.nanoTime() - t0);
        if (problem != null) {
            progress.accept("LAB-HARNESS " + problem);
        }
        return new Report(done && problem == null, problem, List.copyOf(verdicts), List.copyOf(bench), log, wall, 1,
                loadBefore, hostLoad());
    }

    static void parse(String line, List<Verdict> verdicts, List<String> bench) {
        if (line.startsWith(LabInside.RESULT + " ")) {
            String[] f = line.split(" ", 4);
            if (f.length >= 3) {
                verdicts.add(new Verdict(f[1], f[2].equals("PASS"), f.length > 3 ? f[3] : ""));
            }
        } else if (line.startsWith(LabInside.BENCH + " ") || line.startsWith(LabInside.SDK + " ")) {
            bench.add(line);
        }
    }

    /** The host's load average, recorded with each run: other load on the 2 cores doubles lab times. */
    static String hostLoad() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return String.format(Locale.ROOT, "%s %s %s", f[0], f[1], f[2]);
        } catch (IOException | ArrayIndexOutOfBoundsException e) {
            return "unknown";
        }
    }
}
