package io.boxlite;

import io.boxlite.runtime.BoxDatabase;
import io.boxlite.runtime.BoxRuntime;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The BoxLite runtime: owns a home directory ({@code ~/.boxlite}, {@code BOXLITE_HOME} or
 * {@link Options#home()}) with its boxes and images. Several runtimes — in this process and in
 * others (the CLI, detached box hosts) — may share one home.
 *
 * {@snippet :
 * try (Boxlite runtime = Boxlite.open(Options.defaults())) {
 *     Box box = runtime.create(BoxOptions.builder().image("alpine").build(), "worker-1");
 *     ...
 * } // stops the boxes this runtime runs in-process; detached boxes keep running
 * }
 *
 * <p>Opening recovers the home: boxes whose host process died are marked stopped (and removed if
 * they were to be removed on stop), half-created boxes are cleaned, and a missing or damaged
 * {@code db/boxes.db} is rebuilt from the boxes' {@code config.json} files. Thread-safe.
 */
public final class Boxlite implements AutoCloseable {
    static final Executor ASYNC = r -> Thread.ofVirtual().name("boxlite-async").start(r);
    private static Boxlite defaultRuntime;

    private final BoxRuntime core;
    private final Thread exitHook;
    final AtomicLong commands = new AtomicLong();
    final AtomicLong execErrors = new AtomicLong();

    /** What {@link #getOrCreate} found or made. */
    public record GetOrCreate(Box box, boolean created) {
    }

    private Boxlite(BoxRuntime core) {
        this.core = core;
        // why: QEMU is a child process, and a JVM exiting without close() would orphan it
        this.exitHook = new Thread(() -> core.shutdown(Duration.ofSeconds(5)), "boxlite-runtime-exit");
        Runtime.getRuntime().addShutdownHook(exitHook);
    }

    /** Opens a runtime on the home {@code options} name (else {@code BOXLITE_HOME}, else {@code ~/.boxlite}). */
    public static Boxlite open(Options options) {
        return new Boxlite(BoxRuntime.open(Objects.requireNonNull(options, "options"), System.getenv(), true));
    }

    /** {@link #open(Options)} with an explicit environment (tests; the CLI's {@code --home}). */
    public static Boxlite open(Options options, java.util.Map<String, String> env) {
        return new Boxlite(BoxRuntime.open(options, env, true));
    }

    /**
     * The process-wide default runtime on the default home, opened on first use. Like every
     * runtime, it stops its in-process boxes when the JVM exits.
     */
    public static synchronized Boxlite defaultRuntime() {
        if (defaultRuntime == null || defaultRuntime.core.isClosed()) {
            defaultRuntime = open(Options.defaults());
        }
        return defaultRuntime;
    }

    /** Creates a box (persisted as configured; nothing boots until start or the first exec). */
    public Box create(BoxOptions options) {
        return wrap(core.create(options, Optional.empty()));
    }

    /**
     * Creates a box with a unique name.
     *
     * @throws AlreadyExistsException if the name is taken
     * @throws InvalidArgumentException naming the field of a bad option, also a
     *         {@code diskSizeGb} smaller than the image's root filesystem (to check it, create
     *         builds the image's ext4 base, which the first start needs anyway)
     * @throws UnsupportedException for volumes, ports or network, which are not available yet
     * @throws BoxliteException {@link ErrorCode#RESOURCE_EXHAUSTED} if, building that base, the
     *         image unpacks to more than {@link Options#maxUnpackedBytes()}
     */
    public Box create(BoxOptions options, String name) {
        return wrap(core.create(options, Optional.of(Objects.requireNonNull(name, "name"))));
    }

    /** The box named {@code name}, or a new one with {@code options}. */
    public synchronized GetOrCreate getOrCreate(BoxOptions options, String name) {
        Optional<BoxDatabase.Row> existing = core.store().findByName(name);
        if (existing.isPresent()) {
            return new GetOrCreate(wrap(existing.get()), false);
        }
        try {
            return new GetOrCreate(create(options, name), true);
        } catch (AlreadyExistsException raced) {
            return new GetOrCreate(wrap(core.store().findByName(name).orElseThrow(() -> raced)), false);
        }
    }

    /** A box by id, unique id prefix or name. */
    public Optional<Box> get(String idOrName) {
        return core.find(idOrName).map(this::wrap);
    }

    public Optional<BoxInfo> info(String idOrName) {
        return core.find(idOrName).map(r -> info(core.refresh(r.config().id())));
    }

    /** Every box, newest first; with {@code states}, only those in them. */
    public List<BoxInfo> list(BoxState... states) {
        Set<BoxState> wanted = states.length == 0 ? Set.of(BoxState.values()) : Set.copyOf(Arrays.asList(states));
        return core.list().stream().map(r -> {
            BoxDatabase.Row row = r;
            if (r.status().state() == BoxState.RUNNING && core.localHost(r.config().id()).isEmpty()
                    && !core.store().hostAlive(r.config().id(), r.status())) {
                row = core.find(r.config().id()).map(x -> core.refresh(x.config().id())).orElse(r);
            }
            return info(row);
        }).filter(i -> wanted.contains(i.state())).toList();
    }

    /**
     * Removes a box; a running box needs {@code force}.
     *
     * @throws NotFoundException if there is no such box
     * @throws InvalidStateException if it runs and {@code force} is false
     */
    public void remove(String idOrName, boolean force) {
        core.remove(core.get(idOrName).config().id(), force);
    }

    public RuntimeMetrics metrics() {
        long running = core.list().stream().filter(r -> r.status().state() == BoxState.RUNNING).count();
        return new RuntimeMetrics(core.boxesCreated(), core.boxesFailed(), running, commands.get(), execErrors.get());
    }

    /**
     * Stops the boxes this runtime runs in-process (each within {@code grace}) and closes it.
     * Detached boxes keep running. The runtime is unusable afterwards.
     */
    public void shutdown(Duration grace) {
        core.shutdown(grace);
        try {
            Runtime.getRuntime().removeShutdownHook(exitHook);
        } catch (IllegalStateException exiting) {
            // the JVM is exiting: the hook is running or about to, and shutdown is idempotent
        }
    }

    @Override
    public void close() {
        shutdown(BoxRuntime.DEFAULT_STOP_GRACE);
    }

    /** The engine room, for BoxLite's own CLI (internal API). */
    public BoxRuntime core() {
        return core;
    }

    // --- async twins ----------------------------------------------------------------------------

    public CompletableFuture<Box> createAsync(BoxOptions options) {
        return CompletableFuture.supplyAsync(() -> create(options), ASYNC);
    }

    public CompletableFuture<Box> createAsync(BoxOptions options, String name) {
        return CompletableFuture.supplyAsync(() -> create(options, name), ASYNC);
    }

    public CompletableFuture<GetOrCreate> getOrCreateAsync(BoxOptions options, String name) {
        return CompletableFuture.supplyAsync(() -> getOrCreate(options, name), ASYNC);
    }

    public CompletableFuture<Optional<Box>> getAsync(String idOrName) {
        return CompletableFuture.supplyAsync(() -> get(idOrName), ASYNC);
    }

    public CompletableFuture<List<BoxInfo>> listAsync(BoxState... states) {
        return CompletableFuture.supplyAsync(() -> list(states), ASYNC);
    }

    public CompletableFuture<Void> removeAsync(String idOrName, boolean force) {
        return CompletableFuture.runAsync(() -> remove(idOrName, force), ASYNC);
    }

    public CompletableFuture<Void> shutdownAsync(Duration grace) {
        return CompletableFuture.runAsync(() -> shutdown(grace), ASYNC);
    }

    private Box wrap(BoxDatabase.Row row) {
        return new Box(this, core, row.config().id(), row.config().name());
    }

    static BoxInfo info(BoxDatabase.Row r) {
        var c = r.config();
        var s = r.status();
        return new BoxInfo(c.id(), c.name(), s.state(), c.createdAt(), c.imageReference(), c.options().cpus(),
                c.options().memoryMib(), s.hostPid(), s.detached(), s.engine(), s.exitCode(), s.error(),
                c.options().autoRemove(), s.startedAt(), s.stoppedAt());
    }
}
