package io.boxlite.lab;

import io.boxlite.BoxInfo;
import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.Boxlite;
import io.boxlite.EngineKind;
import io.boxlite.ExecResult;
import io.boxlite.Options;
import io.boxlite.SimpleBox;
import io.boxlite.engine.Engines;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The runtime itself in the lab: {@link Boxlite#open} on a fresh home with the guest kernel and
 * the busybox OCI layout the lab image ships, boxes made through {@link SimpleBox} and stopped
 * through the runtime — the path a user's program takes, on whichever engine the probe (or an
 * override) picks.
 */
final class LabSdk {
    /** Guest RAM of the lab's SDK boxes. */
    static final int MEMORY_MIB = 320;

    private final Path lab;

    LabSdk(Path lab) {
        this.lab = lab;
    }

    /** What one box's life measured, in milliseconds, with the facts checked along the way. */
    record Run(String engine, long createToStartedMs, long firstExecMs, long guestBootMs, long stopMs,
               Map<String, Long> stages) {
        /** Host work of create + start: everything but the guest's boot to its agent. */
        long hostMs() {
            return createToStartedMs - guestBootMs;
        }
    }

    /** Opens a runtime on {@code home}: this lab's kernel, {@code engine} forced when given. */
    Boxlite open(Path home, Optional<EngineKind> engine) {
        Options.Builder b = Options.builder().home(home).kernelDir(lab.resolve("kernel"));
        engine.ifPresent(b::engine);
        Map<String, String> env = new HashMap<>(System.getenv());
        env.putIfAbsent("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"); // the outer init exports none
        return Boxlite.open(b.build(), env);
    }

    /** The engine the runtime chose, checked against {@code expected}; its reason otherwise. */
    static Engines.Choice requireEngine(Boxlite runtime, String expected) {
        Engines.Choice c = runtime.core().engine();
        if (!c.engine().name().equals(expected)) {
            throw new AssertionError("the runtime chose " + c.engine().name() + ", not " + expected + ": " + c.reason());
        }
        return c;
    }

    BoxOptions boxOptions(boolean detach) {
        return BoxOptions.builder().rootfsPath(lab.resolve("oci-busybox")).cpus(1).memoryMib(MEMORY_MIB)
                .autoRemove(false).detach(detach).build();
    }

    /**
     * One box's life: create + start, {@code echo TOKEN} (its output checked), stop — the guest must
     * end itself (its console shows the reboot or power-off), not be killed — then remove.
     */
    Run box(Boxlite runtime, BoxOptions options, String token) throws IOException {
        long t0 = System.nanoTime();
        String id;
        Run run;
        try (SimpleBox box = SimpleBox.create(runtime, options)) {
            id = box.id();
            long started = System.nanoTime();
            ExecResult r = box.exec("echo", token);
            long executed = System.nanoTime();
            if (r.exitCode() != 0 || !r.stdout().equals(token + "\n")) {
                throw new AssertionError("echo in the box: exit " + r.exitCode() + ", stdout '" + r.stdout()
                        + "', stderr '" + r.stderr() + "'");
            }
            BoxInfo info = box.info();
            if (info.state() != BoxState.RUNNING || info.detached() != options.detach()) {
                throw new AssertionError("box info after exec: " + info);
            }
            Map<String, Long> stages = new LinkedHashMap<>(box.metrics().stageDurationsMs());
            Path console = runtime.core().store().boxDir(id).resolve("vm").resolve("console.log");
            long s0 = System.nanoTime();
            box.stop();
            long stopped = System.nanoTime();
            BoxInfo after = box.info();
            if (after.state() != BoxState.STOPPED) {
                throw new AssertionError("after stop the box is " + after.state() + ": " + after.error().orElse(""));
            }
            String text = Files.readString(console);
            if (!text.contains("reboot: Restarting system") && !text.contains("reboot: Power down")) {
                throw new AssertionError("the guest did not end itself on stop; console tail: "
                        + text.substring(Math.max(0, text.length() - 600)));
            }
            run = new Run(info.engine().orElse("?"), millis(t0, started), millis(started, executed),
                    stages.getOrDefault("stage_container_init_ms", -1L), millis(s0, stopped), stages);
        }
        runtime.remove(id, false);
        return run;
    }

    private static long millis(long from, long to) {
        return (to - from) / 1_000_000;
    }
}
