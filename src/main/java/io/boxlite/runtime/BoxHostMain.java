package io.boxlite.runtime;

import io.boxlite.BoxliteException;
import io.boxlite.EngineKind;
import io.boxlite.Options;
import io.boxlite.log.Logging;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The {@code main} of a detached box's host process: hosts one box until it stops (a STOP on its
 * socket, SIGTERM, its main command ending, or its VM exiting), then exits. Started by
 * {@link DetachedHosts}; not meant to be run by hand.
 *
 * <p>Exit status: 0 once the box stopped, 1 if it could not start (the reason is in the box's
 * status and in {@code logs/host.log}), 2 for a bad command line.
 */
public final class BoxHostMain {
    private BoxHostMain() {
    }

    public static void main(String[] args) {
        Map<String, String> a = new HashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (!arg.startsWith("--") || eq < 0) {
                System.err.println("boxlite-host: bad argument '" + arg + "'");
                System.exit(2);
            }
            a.put(arg.substring(2, eq), arg.substring(eq + 1));
        }
        if (!a.containsKey("home") || !a.containsKey("box")) {
            System.err.println("boxlite-host: --home and --box are required");
            System.exit(2);
        }
        Logging.configure(System.getenv());
        Options.Builder ob = Options.builder().home(Path.of(a.get("home")));
        if (a.containsKey("kernel-dir")) {
            ob.kernelDir(Path.of(a.get("kernel-dir")));
        }
        if (a.containsKey("engine")) {
            ob.engine(EngineKind.parse(a.get("engine")));
        }
        if (a.containsKey("scratch-dir")) {
            ob.scratchDir(Path.of(a.get("scratch-dir")));
        }
        BoxHost.Main main = BoxHost.Main.valueOf(a.getOrDefault("main", "NONE"));
        int status;
        try (BoxRuntime runtime = BoxRuntime.open(ob.build(), System.getenv(), false)) {
            BoxDatabase.Row row = runtime.store().find(a.get("box"))
                    .orElseThrow(() -> new BoxliteException(io.boxlite.ErrorCode.NOT_FOUND, "No such box: " + a.get("box")));
            BoxHost host = BoxHost.start(runtime, row.config(), row.status(), true, main);
            System.err.println("boxlite-host: box " + row.config().id() + " running (engine pid " + host.enginePid() + ")");
            Thread hook = new Thread(() -> host.stop(Duration.ofSeconds(10)), "boxlite-host-sigterm");
            Runtime.getRuntime().addShutdownHook(hook);
            BoxStatus end = host.stopped().join();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
            System.err.println("boxlite-host: box " + row.config().id() + " " + end.state().label());
            status = 0;
        } catch (RuntimeException e) {
            System.err.println("boxlite-host: " + e.getMessage());
            status = 1;
        }
        System.exit(status);
    }
}
