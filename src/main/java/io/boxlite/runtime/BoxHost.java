package io.boxlite.runtime;

import io.boxlite.BoxState;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidStateException;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.Execution;
import io.boxlite.agent.GuestConnector;
import io.boxlite.agent.OutputListener;
import io.boxlite.agent.ShutdownAction;
import io.boxlite.disk.DiskImage;
import io.boxlite.engine.BoxEngine;
import io.boxlite.engine.BoxVm;
import io.boxlite.engine.qemu.ProcessIdentity;
import io.boxlite.home.SocketPaths;
import io.boxlite.oci.store.FileLocks;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.runtime.disk.BoxDisks;
import io.boxlite.rootfs.Rootfs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Runs one box's VM in this process: prepares its disk, boots it, waits for its agent, records it
 * as running (with this process as its host) and serves its control socket, so any process on
 * the home can reach it. It stops the box on request, or notices when the VM dies, and then
 * records the outcome; a box to be removed on stop is removed here.
 *
 * <p>The same class runs in-process boxes (in the runtime's JVM) and detached ones (in a
 * {@link BoxHostMain} JVM of their own).
 */
public final class BoxHost {
    private static final System.Logger LOG = System.getLogger(BoxHost.class.getName());
    /** How long the guest may take to boot; TCG on a loaded machine needs far more than KVM. */
    public static final Duration BOOT_TIMEOUT = Duration.ofSeconds(180);
    /** How long the engine gets to exit after the agent acknowledged the shutdown. */
    static final Duration POWER_OFF_WAIT = Duration.ofSeconds(20);

    /** Whether the host itself runs the box's main command. */
    public enum Main {
        /** No: the box idles until stopped; callers exec what they want. */
        NONE,
        /** Yes, stdin held open, output to {@code logs/main.log}; the box stops when it exits. */
        HOSTED
    }

    private final BoxRuntime runtime;
    private final BoxConfig config;
    private final boolean detached;
    private final Path dir;
    private final CompletableFuture<BoxStatus> stopped = new CompletableFuture<>();
    private FileLocks.Held hostLock;
    private BoxVm vm;
    private AgentClient agent;
    private HostServer server;
    private BoxEngine engine;
    private volatile BoxStatus status;
    private volatile boolean stopping;
    private volatile Integer mainExit;
    private final Map<String, Long> timings = new LinkedHashMap<>();
    private final DetachedExecs execs;

    private BoxHost(BoxRuntime runtime, BoxConfig config, BoxStatus previous, boolean detached) {
        this.runtime = runtime;
        this.config = config;
        this.detached = detached;
        this.dir = runtime.store().boxDir(config.id());
        this.status = previous;
        this.execs = new DetachedExecs(dir, runtime.home().staging());
    }

    /**
     * Boots the box and returns once its agent answered and it is recorded as running.
     *
     * @throws InvalidStateException if another process already hosts it
     */
    public static BoxHost start(BoxRuntime runtime, BoxConfig config, BoxStatus previous, boolean detached, Main main) {
        BoxHost host = new BoxHost(runtime, config, previous, detached);
        host.boot();
        if (main == Main.HOSTED) {
            host.runMain();
        }
        return host;
    }

    private void boot() {
        long t0 = System.nanoTime();
        hostLock = HostLocks.tryHost(dir).orElseThrow(() -> new InvalidStateException("Box " + config.id()
                + " is already running in another process"));
        try {
            long t = System.nanoTime();
            Files.createDirectories(dir.resolve("logs"));
            Files.createDirectories(dir.resolve("sockets"));
            stage("stage_filesystem_setup_ms", t);

            t = System.nanoTime();
            engine = runtime.engine().engine();
            stage("stage_box_config_ms", t);

            t = System.nanoTime();
            if (!BoxDisks.exists(dir)) {
                BoxRuntime.requireSpace(dir, 64L << 20, "create the disk of box " + config.id());
                ImageRecord image = runtime.imageRecord(config);
                Rootfs base = runtime.rootfsBuilder().build(image);
                stage("stage_image_prepare_ms", t);
                t = System.nanoTime();
                BoxDisks.prepare(dir, base.image(), BoxDisks.virtualSize(config.options().diskSizeGb(), base.size(),
                        config.imageReference()));
            }
            DiskImage disk = BoxDisks.open(dir);
            stage("stage_guest_rootfs_ms", t);

            t = System.nanoTime();
            // the engine owns the disk from here on, and closes it (flushing) with the VM
            vm = engine.boot(new BoxEngine.VmSpec(config.options().cpus(), config.options().memoryMib(), disk,
                    dir.resolve("vm"), config.options().diskSizeGb() > 0),
                    reason -> LOG.log(System.Logger.Level.DEBUG, "box {0}: {1}", config.id(), reason));
            stage("stage_box_spawn_ms", t);

            t = System.nanoTime();
            agent = vm.awaitAgent(BOOT_TIMEOUT);
            stage("stage_container_init_ms", t);
            if (config.options().diskSizeGb() > 0) {
                reportGrowth(vm.consoleLog());
            }
            timings.put("guest_boot_duration_ms", timings.get("stage_container_init_ms"));

            server = HostServer.listen(socketPath(runtime, config.id()), new Handler());
            timings.put("total_create_duration_ms", (System.nanoTime() - t0) / 1_000_000);
            String identity = ProcessIdentity.of(ProcessHandle.current().pid()).map(ProcessIdentity::encode)
                    .map(String::strip).orElseThrow(() -> new BoxliteException(ErrorCode.INTERNAL,
                            "Cannot read this process's identity from /proc"));
            status = new BoxStatus(BoxState.RUNNING, Optional.of(identity), detached, Optional.of(engine.name()),
                    Optional.empty(), Optional.empty(), Optional.of(Instant.now()), Optional.empty(), Instant.now(),
                    timings);
            if (!runtime.store().update(config, status)) {
                throw new InvalidStateException("Box " + config.id() + " was removed while it started");
            }
            Thread.ofVirtual().name("boxlite-watch-" + config.id()).start(this::watch);
        } catch (IOException e) {
            fail(new BoxliteException(ErrorCode.STORAGE, "Cannot prepare the directory of box " + config.id()
                    + ": " + e.getMessage(), e));
        } catch (RuntimeException e) {
            fail(e);
        }
    }

    /** Warns when the agent said on the console that it could not grow the root filesystem. */
    private void reportGrowth(Path console) {
        BoxDisks.growthFailures(console).forEach(said -> LOG.log(System.Logger.Level.WARNING, "Box {0} did not "
                + "get the {1} GiB root filesystem it asked for (diskSizeGb) and keeps the size it had; the guest "
                + "said: {2}", config.id(), config.options().diskSizeGb(), said));
    }

    private void stage(String name, long since) {
        timings.put(name, (System.nanoTime() - since) / 1_000_000);
    }

    private void fail(RuntimeException e) {
        String console = vm != null ? tail(vm.consoleLog()) : "";
        release();
        status = status.ended(BoxState.FAILED, Optional.empty(), Optional.of(e.getMessage()));
        runtime.store().update(config, status);
        stopped.complete(status);
        if (!console.isEmpty()) {
            LOG.log(System.Logger.Level.DEBUG, "box {0} console: {1}", config.id(), console);
        }
        throw e;
    }

    /** The socket through which other processes reach the box. */
    static Path socketPath(BoxRuntime runtime, String id) {
        return SocketPaths.resolve(runtime.env()).socketPath(runtime.store().boxDir(id).resolve("sockets"), "box.sock");
    }

    public BoxConfig config() {
        return config;
    }

    public BoxStatus status() {
        return status;
    }

    public AgentClient agent() {
        AgentClient a = agent;
        if (a == null || stopping) {
            throw new BoxliteException(ErrorCode.STOPPED, "Box " + config.id() + " is stopped");
        }
        return a;
    }

    public GuestConnector connector() {
        return vm.connector();
    }

    /** The process running the guest's CPUs: QEMU's, or this one on the KVM engine. */
    public long enginePid() {
        return vm.pid();
    }

    /** Guest RAM backed by pages so far, where the engine can tell (KVM engine). */
    public Optional<Long> guestResidentBytes() {
        return vm.guestResidentBytes();
    }

    /** Completes with the final status once the box has stopped. */
    public CompletableFuture<BoxStatus> stopped() {
        return stopped;
    }

    /**
     * Starts {@code request} in the background, owned by this host: it outlives the caller and
     * ends with the command or with the box. Output goes to {@code logs/exec-{id}.log}.
     *
     * @throws BoxliteException ({@link ErrorCode#STOPPED}) if the box is stopping
     * @throws io.boxlite.agent.GuestAgentException if the guest cannot start the command
     */
    public DetachedExec execDetached(ExecRequest request) {
        return execs.start(agent(), request);
    }

    /** Records the exit status of the box's main command (shown as the box's exit code). */
    public void mainExited(int code) {
        mainExit = code;
    }

    private void runMain() {
        ExecRequest request = config.image().request(config.options(), config.image().mainArgv(config.options()),
                Map.of(), Optional.empty(), Optional.empty(), Optional.empty(), Duration.ZERO);
        LogSink log = LogSink.open(dir.resolve("logs").resolve("main.log"), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        Execution main;
        try {
            main = agent.exec(request, log);
        } catch (RuntimeException e) {
            int code = e instanceof io.boxlite.agent.GuestAgentException g && g.notFound() ? 127 : 126;
            log.append(("boxlite: cannot start the main command: " + e.getMessage() + "\n").getBytes());
            log.close();
            mainExit = code;
            Thread.ofVirtual().start(() -> stopQuietly(Duration.ofSeconds(10)));
            return;
        }
        // stdin stays open (never closed), so a shell as main command waits instead of exiting.
        main.onExit().whenComplete((r, t) -> {
            log.close();
            mainExit = r != null ? r.exitCode() : null;
            Thread.ofVirtual().start(() -> stopQuietly(Duration.ofSeconds(10)));
        });
    }

    private void stopQuietly(Duration grace) {
        try {
            stop(grace);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "Stopping box " + config.id() + ": " + e.getMessage());
        }
    }

    /**
     * Stops the box: the agent syncs the disks and powers the guest off within {@code grace};
     * the engine is killed if it is still there afterwards. Idempotent; concurrent callers all
     * return once it has stopped.
     */
    public BoxStatus stop(Duration grace) {
        synchronized (this) {
            if (stopping) {
                return stopped.join();
            }
            stopping = true;
        }
        status = status.withState(BoxState.STOPPING);
        runtime.store().update(config, status);
        try {
            agent.shutdown(vm.stopAction(), grace);
            if (vm.awaitExit(POWER_OFF_WAIT).isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "Box {0} did not power off; killing its engine", config.id());
            }
        } catch (BoxliteException e) {
            LOG.log(System.Logger.Level.INFO, "Box {0}: orderly shutdown failed ({1}); killing its engine",
                    config.id(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return finish(BoxState.STOPPED, Optional.empty());
    }

    private void watch() {
        try {
            while (true) {
                Optional<Integer> exit = vm.awaitExit(Duration.ofSeconds(5));
                if (exit.isPresent()) {
                    synchronized (this) {
                        if (stopping) {
                            return;
                        }
                        stopping = true;
                    }
                    boolean clean = exit.get() == 0;
                    LOG.log(clean ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                            "Box {0}: its VM exited by itself with status {1}", config.id(), exit.get());
                    finish(clean ? BoxState.STOPPED : BoxState.FAILED, clean ? Optional.empty()
                            : Optional.of("its VM exited unexpectedly (status " + exit.get() + "): "
                            + tail(vm.consoleLog())));
                    return;
                }
                if (stopping) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private BoxStatus finish(BoxState end, Optional<String> why) {
        release();
        status = status.ended(end, Optional.ofNullable(mainExit), why);
        runtime.store().update(config, status);
        if (config.options().autoRemove()) {
            try {
                runtime.removeStopped(config.id());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "Removing box {0} on stop: {1}", config.id(), e.getMessage());
            }
        }
        stopped.complete(status);
        return status;
    }

    private void release() {
        if (server != null) {
            server.close();
        }
        if (agent != null) {
            agent.close();
        }
        if (vm != null) {
            vm.close();
        }
        SocketPaths.resolve(runtime.env()).release(dir.resolve("sockets"));
        if (hostLock != null) {
            hostLock.close();
        }
    }

    static String tail(Path log) {
        try {
            var lines = Files.readAllLines(log);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 8), lines.size()));
        } catch (IOException e) {
            return "";
        }
    }

    private final class Handler implements HostServer.Handler {
        @Override
        public GuestConnector connector() {
            if (stopping) {
                return port -> {
                    throw new IOException("the box is stopping");
                };
            }
            return vm.connector();
        }

        @Override
        public String statusJson() {
            return BoxJson.statusText(status);
        }

        @Override
        public void stop(Duration grace) {
            BoxHost.this.stop(grace);
        }

        @Override
        public DetachedExec execDetached(ExecRequest request) {
            return BoxHost.this.execDetached(request);
        }
    }
}
