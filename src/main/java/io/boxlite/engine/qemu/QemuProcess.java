package io.boxlite.engine.qemu;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One running QEMU. Its identity (PID and kernel start time) is written next to the box, so a
 * later runtime can find and kill a QEMU whose parent JVM died: Java cannot set a parent-death
 * signal on a child, and a bare PID may have been reused by then.
 */
public final class QemuProcess implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(QemuProcess.class.getName());
    static final String PID_FILE = "qemu.pid";

    private final Process process;
    private final Path pidFile;
    private final QmpClient qmp;

    private QemuProcess(Process process, Path pidFile, QmpClient qmp) {
        this.process = process;
        this.pidFile = pidFile;
        this.qmp = qmp;
    }

    /**
     * Starts QEMU with {@code command}, its stdout and stderr appended to {@code log}, records it
     * in {@code stateDir}, and connects to its QMP socket.
     */
    public static QemuProcess start(QemuCommandLine command, Path stateDir, Path log, Duration connectTimeout) {
        Process p;
        try {
            p = new ProcessBuilder(command.arguments())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.ENGINE, "Cannot start " + command.binary() + ": " + e.getMessage()
                    + "; install qemu-system-x86 (bin/setup)", e);
        }
        Path pidFile = stateDir.resolve(PID_FILE);
        try {
            ProcessIdentity id = ProcessIdentity.of(p.pid()).orElseThrow(
                    () -> new BoxliteException(ErrorCode.ENGINE, "QEMU exited at once; see " + log));
            Files.writeString(pidFile, id.encode(), StandardCharsets.US_ASCII);
            QmpClient qmp = connectOrExit(p, command.qmpSocket(), connectTimeout, log);
            return new QemuProcess(p, pidFile, qmp);
        } catch (IOException | RuntimeException e) {
            p.destroyForcibly();
            awaitQuietly(p, Duration.ofSeconds(5));
            deleteQuietly(pidFile);
            if (e instanceof BoxliteException be) {
                throw be;
            }
            throw new BoxliteException(ErrorCode.ENGINE, "Cannot record QEMU's process in " + pidFile, e);
        }
    }

    private static QmpClient connectOrExit(Process p, Path socket, Duration timeout, Path log) {
        try {
            return QmpClient.connect(socket, timeout);
        } catch (BoxliteException e) {
            if (!p.isAlive()) {
                throw new BoxliteException(ErrorCode.ENGINE, "QEMU exited with status " + p.exitValue()
                        + " while starting: " + lastLines(log, 5), e);
            }
            throw e;
        }
    }

    public long pid() {
        return process.pid();
    }

    public QmpClient qmp() {
        return qmp;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Waits for QEMU to exit (the guest powered off) and returns its status, or empty on timeout. */
    public Optional<Integer> awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS) ? Optional.of(process.exitValue()) : Optional.empty();
    }

    /**
     * Stops QEMU: asks it to quit over QMP, then kills it if it is still there after
     * {@code grace}. The guest gets no chance to sync: ask the agent for an orderly shutdown first.
     */
    public int kill(Duration grace) {
        if (process.isAlive()) {
            try {
                qmp.execute("quit", java.util.Map.of());
            } catch (BoxliteException e) {
                LOG.log(Level.DEBUG, "QMP quit failed, killing QEMU {0}: {1}", process.pid(), e.getMessage());
            }
            if (!awaitQuietly(process, grace)) {
                process.destroyForcibly();
                awaitQuietly(process, Duration.ofSeconds(10));
            }
        }
        return process.isAlive() ? -1 : process.exitValue();
    }

    /** Kills QEMU if it still runs, closes QMP and removes the PID file; idempotent. */
    @Override
    public void close() {
        kill(Duration.ofSeconds(2));
        qmp.close();
        deleteQuietly(pidFile);
    }

    /**
     * Kills QEMU processes recorded under {@code boxesDir} ({@code BOX/qemu.pid}) that are still
     * running: the runtime that started them died. A PID whose start time differs belongs to
     * someone else now and is left alone. Returns how many were killed.
     */
    public static int reapOrphans(Path boxesDir) {
        int killed = 0;
        if (!Files.isDirectory(boxesDir)) {
            return 0;
        }
        try (var boxes = Files.list(boxesDir)) {
            for (Path box : boxes.toList()) {
                Path pidFile = box.resolve(PID_FILE);
                if (!Files.isRegularFile(pidFile)) {
                    continue;
                }
                Optional<ProcessIdentity> recorded = ProcessIdentity.decode(Files.readString(pidFile));
                if (recorded.isPresent() && recorded.get().isStillRunning()) {
                    Optional<ProcessHandle> h = ProcessHandle.of(recorded.get().pid());
                    if (h.isPresent() && h.get().destroyForcibly()) {
                        LOG.log(Level.INFO, "Killed orphaned QEMU {0} of {1}", recorded.get().pid(), box.getFileName());
                        killed++;
                        h.get().onExit().get(10, TimeUnit.SECONDS);
                    }
                }
                deleteQuietly(pidFile);
            }
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.STORAGE, "Cannot scan " + boxesDir + " for orphaned QEMU processes", e);
        } catch (Exception e) {
            LOG.log(Level.WARNING, "Reaping orphaned QEMU processes: " + e);
        }
        return killed;
    }

    private static boolean awaitQuietly(Process p, Duration d) {
        try {
            return p.waitFor(d.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot remove " + p + ": " + e.getMessage());
        }
    }

    static String lastLines(Path log, int n) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
