package io.boxlite;

import io.boxlite.agent.AgentClient;
import io.boxlite.agent.CopyOption;
import io.boxlite.agent.GuestAgentException;
import io.boxlite.agent.OutputListener;
import io.boxlite.runtime.BoxDatabase;
import io.boxlite.runtime.BoxRuntime;
import io.boxlite.runtime.BoxStatus;
import io.boxlite.runtime.TarStreams;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A box: BoxLite's {@code LiteBox}. A thin handle on a box that lives in the home's store, so
 * several handles (in several processes) may refer to one box. Boxes start on {@link #start()},
 * or implicitly on the first {@link #exec} — unless the box has its own main command
 * ({@link BoxOptions#cmd()} or {@link BoxOptions#entrypoint()}), which must not be rerun by
 * accident, so such a box is started explicitly.
 *
 * {@snippet :
 * try (Boxlite runtime = Boxlite.open(Options.defaults());
 *      Box box = runtime.create(BoxOptions.builder().image("alpine").build())) {
 *     try (Execution run = box.exec(BoxCommand.of("uname", "-a"))) {
 *         System.out.print(new String(run.stdout().readAllBytes(), UTF_8));
 *         System.out.println(run.waitFor().exitCode());
 *     }
 * } // close() stops the box; with autoRemove (the default) that removes it
 * }
 *
 * <p>Thread-safe. Blocking methods are cheap on virtual threads; the {@code …Async} twins run
 * them on one.
 */
public final class Box implements AutoCloseable {
    private final Boxlite runtime;
    private final BoxRuntime core;
    private final String id;
    private final Optional<String> name;

    Box(Boxlite runtime, BoxRuntime core, String id, Optional<String> name) {
        this.runtime = runtime;
        this.core = core;
        this.id = id;
        this.name = name;
    }

    public String id() {
        return id;
    }

    public Optional<String> name() {
        return name;
    }

    /** Its current record. */
    public BoxInfo info() {
        return Boxlite.info(core.refresh(id));
    }

    /** Boots the box unless it runs; returns once its agent answered. */
    public void start() {
        core.start(id, false, false);
    }

    /**
     * Stops the box within the default grace of 10 s (the guest syncs its disk and powers off;
     * then it is forced). A box with {@code autoRemove} is removed. No-op unless running.
     */
    public void stop() {
        stop(BoxRuntime.DEFAULT_STOP_GRACE);
    }

    public void stop(Duration grace) {
        core.stop(id, grace);
    }

    /**
     * Starts {@code command} (booting the box first if needed) with the image's and the box's
     * environment, working directory and user as defaults.
     *
     * @throws NotFoundException if the program (or the working directory, or the user) does not
     *     exist in the box
     * @throws InvalidStateException if the box is stopped and has its own main command
     */
    public Execution exec(BoxCommand command) {
        BoxDatabase.Row row = core.refresh(id);
        if (row.status().state() != BoxState.RUNNING) {
            if (row.config().hasMainCommand()) {
                throw new InvalidStateException("Box " + id + " is " + row.status().state().label()
                        + " and has its own main command, which must not rerun implicitly: call start() first");
            }
            core.start(id, false, false);
            row = core.refresh(id);
        }
        BoxRuntime.Counters counters = core.counters(id);
        counters.commands.incrementAndGet();
        runtime.commands.incrementAndGet();
        var request = row.config().image().request(row.config().options(), command);
        AgentClient agent = core.agent(id);
        Execution.Lines out = command.onStdout().map(Execution.Lines::new).orElse(null);
        Execution.Lines err = command.onStderr().map(Execution.Lines::new).orElse(null);
        OutputListener listener = out == null && err == null ? null : new OutputListener() {
            @Override
            public void onStdout(byte[] data) {
                counters.bytesReceived.addAndGet(data.length);
                if (out != null) {
                    out.accept(data);
                }
            }

            @Override
            public void onStderr(byte[] data) {
                counters.bytesReceived.addAndGet(data.length);
                if (err != null) {
                    err.accept(data);
                }
            }
        };
        try {
            io.boxlite.agent.Execution inner = agent.exec(request, listener);
            return new Execution(inner, counters, () -> {
                if (out != null) {
                    out.finish();
                }
                if (err != null) {
                    err.finish();
                }
            });
        } catch (GuestAgentException e) {
            counters.execErrors.incrementAndGet();
            runtime.execErrors.incrementAndGet();
            throw e.notFound() ? new NotFoundException(e.getMessage(), e) : new BoxliteException(e.code(), e.getMessage(), e);
        } catch (RuntimeException e) {
            counters.execErrors.incrementAndGet();
            runtime.execErrors.incrementAndGet();
            throw e;
        }
    }

    /**
     * Copies the host file or directory {@code hostPath} into the box directory {@code guestDir}
     * (created if missing), like {@code cp -r}; modes and times are kept.
     */
    public void copyIn(Path hostPath, String guestDir) {
        if (!Files.exists(hostPath)) {
            throw new NotFoundException("copyIn: " + hostPath + " does not exist");
        }
        ensureRunning();
        AgentClient agent = core.agent(id);
        TarStreams.writeTo(hostPath, in -> agent.copyIn(in, guestDir, CopyOption.CREATE_DIRECTORIES));
    }

    /** Copies the box file or directory {@code guestPath} into the host directory {@code hostDir}. */
    public void copyOut(String guestPath, Path hostDir) {
        ensureRunning();
        AgentClient agent = core.agent(id);
        TarStreams.extractFrom(hostDir, out -> agent.copyOut(guestPath, out));
    }

    private void ensureRunning() {
        if (core.refresh(id).status().state() != BoxState.RUNNING) {
            start();
        }
    }

    /** Its metrics: this process's counters, the last start's timings, its engine's CPU and memory. */
    public BoxMetrics metrics() {
        BoxDatabase.Row row = core.refresh(id);
        BoxStatus s = row.status();
        BoxRuntime.Counters c = core.counters(id);
        Optional<Long> pid = s.state() == BoxState.RUNNING ? core.enginePid(id) : Optional.empty();
        return new BoxMetrics(c.commands.get(), c.execErrors.get(), c.bytesSent.get(), c.bytesReceived.get(),
                Optional.ofNullable(s.timingsMs().get("total_create_duration_ms")),
                Optional.ofNullable(s.timingsMs().get("guest_boot_duration_ms")), s.timingsMs(),
                pid.flatMap(ProcessStats::cpuPercent), pid.flatMap(ProcessStats::residentBytes));
    }

    /** Stops the box (removing it if {@code autoRemove}). Idempotent. */
    @Override
    public void close() {
        if (core.find(id).isPresent()) {
            stop();
        }
    }

    // --- async twins ----------------------------------------------------------------------------

    private static Executor async() {
        return Boxlite.ASYNC;
    }

    public CompletableFuture<Void> startAsync() {
        return CompletableFuture.runAsync(this::start, async());
    }

    public CompletableFuture<Void> stopAsync() {
        return CompletableFuture.runAsync(this::stop, async());
    }

    public CompletableFuture<Execution> execAsync(BoxCommand command) {
        return CompletableFuture.supplyAsync(() -> exec(command), async());
    }

    public CompletableFuture<BoxInfo> infoAsync() {
        return CompletableFuture.supplyAsync(this::info, async());
    }

    public CompletableFuture<BoxMetrics> metricsAsync() {
        return CompletableFuture.supplyAsync(this::metrics, async());
    }

    public CompletableFuture<Void> copyInAsync(Path hostPath, String guestDir) {
        return CompletableFuture.runAsync(() -> copyIn(hostPath, guestDir), async());
    }

    public CompletableFuture<Void> copyOutAsync(String guestPath, Path hostDir) {
        return CompletableFuture.runAsync(() -> copyOut(guestPath, hostDir), async());
    }

    @Override
    public String toString() {
        return "Box[" + id + name.map(n -> " " + n).orElse("") + "]";
    }
}
