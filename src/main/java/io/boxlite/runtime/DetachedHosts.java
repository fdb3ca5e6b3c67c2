package io.boxlite.runtime;

import io.boxlite.BoxState;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Starts a box in a {@link BoxHostMain} process of its own: a new session ({@code setsid}), so it
 * survives its creator and the creator's terminal; stdout and stderr go to
 * {@code boxes/{id}/logs/host.log}. Returns once the host recorded the box as running, or throws
 * with the host's reason.
 */
final class DetachedHosts {
    /** A small heap: the guest's RAM and the disk cache live outside it. */
    private static final List<String> JVM_FLAGS = List.of("-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xshare:auto", "--enable-native-access=ALL-UNNAMED");

    private DetachedHosts() {
    }

    static void spawn(BoxRuntime runtime, BoxConfig config, BoxHost.Main main) {
        Path dir = runtime.store().boxDir(config.id());
        Path log = dir.resolve("logs").resolve("host.log");
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            cmd.add("/usr/bin/setsid");
        }
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString()));
        cmd.addAll(JVM_FLAGS);
        cmd.add("-cp");
        cmd.add(classPath());
        cmd.add(BoxHostMain.class.getName());
        cmd.add("--home=" + runtime.home().root());
        cmd.add("--box=" + config.id());
        cmd.add("--main=" + main.name());
        runtime.options().kernelDir().ifPresent(k -> cmd.add("--kernel-dir=" + k));
        runtime.options().engine().ifPresent(e -> cmd.add("--engine=" + e.name()));
        runtime.options().scratchDir().ifPresent(s -> cmd.add("--scratch-dir=" + s));
        java.time.Instant startedWhen = java.time.Instant.now();
        Process p;
        try {
            Files.createDirectories(log.getParent());
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectErrorStream(true);
            pb.environment().putAll(runtime.env());
            p = pb.start();
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.ENGINE, "Cannot start the box host process: " + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + BoxHost.BOOT_TIMEOUT.plusSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<BoxDatabase.Row> row = runtime.store().find(config.id());
            if (row.isEmpty()) {
                return; // ran, stopped and was removed on stop already
            }
            BoxStatus s = row.get().status();
            if (s.state() == BoxState.RUNNING && s.host().isPresent() && s.startedAt().isPresent()) {
                return;
            }
            if (s.state() == BoxState.FAILED && s.updatedAt().isAfter(startedWhen)) {
                throw new BoxliteException(ErrorCode.ENGINE, "Box " + config.id() + " failed to start: "
                        + s.error().orElse("see " + log));
            }
            if (!p.isAlive()) {
                Optional<BoxDatabase.Row> last = runtime.store().find(config.id());
                if (last.isEmpty() || last.get().status().state() == BoxState.STOPPED
                        && last.get().status().updatedAt().isAfter(startedWhen)) {
                    return; // its main command ended at once
                }
                throw new BoxliteException(ErrorCode.ENGINE, "The box host of " + config.id() + " exited with status "
                        + p.exitValue() + ": " + BoxHost.tail(log));
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BoxliteException(ErrorCode.ENGINE, "Interrupted while box " + config.id() + " started", e);
            }
        }
        p.destroyForcibly();
        throw new BoxliteException(ErrorCode.ENGINE, "Box " + config.id() + " did not start in time; see " + log);
    }

    /** This JVM's class path, absolute, so the host finds the same classes from any directory. */
    private static String classPath() {
        List<String> entries = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!e.isEmpty()) {
                entries.add(Path.of(e).toAbsolutePath().toString());
            }
        }
        return String.join(File.pathSeparator, entries);
    }
}
