package io.boxlite.runtime;

import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.NetworkMode;
import io.boxlite.NotFoundException;
import io.boxlite.Options;
import io.boxlite.PortSpec;
import io.boxlite.UnsupportedException;
import io.boxlite.VolumeSpec;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.GuestAgentException;
import io.boxlite.engine.EngineProbe;
import io.boxlite.engine.Engines;
import io.boxlite.home.BoxliteHome;
import io.boxlite.home.ScratchSpace;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.registry.ImagePuller;
import io.boxlite.oci.registry.RegistryOptions;
import io.boxlite.oci.store.FileLocks;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import io.boxlite.rootfs.RootfsBuilder;
import io.boxlite.runtime.disk.BoxDisks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * The runtime's engine room (internal API; the public face is {@link io.boxlite.Boxlite}): owns
 * the home's box store and image store, creates, starts, stops and removes boxes, hosts the
 * in-process ones and reaches the others through their host's socket.
 */
public final class BoxRuntime implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(BoxRuntime.class.getName());
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    /** Default grace for an orderly stop, as Docker's {@code --stop-timeout}. */
    public static final Duration DEFAULT_STOP_GRACE = Duration.ofSeconds(10);

    private final Options options;
    private final Map<String, String> env;
    private final BoxliteHome home;
    private final BoxStore store;
    private final ImageStore images;
    private final ScratchSpace scratch;
    private final Map<String, BoxHost> hosts = new ConcurrentHashMap<>();
    private final Map<String, RemoteAgent> remotes = new ConcurrentHashMap<>();
    private final Map<String, Counters> counters = new ConcurrentHashMap<>();
    private volatile Engines.Choice engine;
    private volatile boolean closed;
    final AtomicLong boxesCreated = new AtomicLong();
    final AtomicLong boxesFailed = new AtomicLong();
    final AtomicLong commands = new AtomicLong();
    final AtomicLong execErrors = new AtomicLong();

    private record RemoteAgent(String host, AgentClient agent) {
    }

    /** Per-box exec counters of this process. */
    public static final class Counters {
        public final AtomicLong commands = new AtomicLong();
        public final AtomicLong execErrors = new AtomicLong();
        public final AtomicLong bytesSent = new AtomicLong();
        public final AtomicLong bytesReceived = new AtomicLong();
    }

    private BoxRuntime(Options options, Map<String, String> env, BoxliteHome home, BoxStore store, ImageStore images,
                       ScratchSpace scratch) {
        this.options = options;
        this.env = Map.copyOf(env);
        this.home = home;
        this.store = store;
        this.images = images;
        this.scratch = scratch;
    }

    /** Opens the home and recovers boxes whose host died. */
    public static BoxRuntime open(Options options, Map<String, String> env, boolean recover) {
        BoxliteHome home = BoxliteHome.resolve(options, env).open();
        ScratchSpace scratch = ScratchSpace.resolve(options, env);
        BoxStore store = BoxStore.open(home, BoxDatabase.BUSY_TIMEOUT_MS);
        ImageStore images;
        try {
            images = ImageStore.open(home);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
        BoxRuntime runtime = new BoxRuntime(options, env, home, store, images, scratch);
        if (recover) {
            home.staging().sweepStale();
            List<String> dead = store.recover(row -> runtime.removeStopped(row.config().id()));
            if (!dead.isEmpty()) {
                LOG.log(System.Logger.Level.INFO, "Recovered {0} box(es) whose host process died: {1}", dead.size(), dead);
            }
        }
        return runtime;
    }

    public Options options() {
        return options;
    }

    public Map<String, String> env() {
        return env;
    }

    public BoxliteHome home() {
        return home;
    }

    public BoxStore store() {
        return store;
    }

    public ImageStore images() {
        return images;
    }

    public ScratchSpace scratch() {
        return scratch;
    }

    /** The engine boxes start on, probed once per runtime. */
    public Engines.Choice engine() {
        Engines.Choice e = engine;
        if (e == null) {
            synchronized (this) {
                if (engine == null) {
                    engine = Engines.choose(options, home, env, EngineProbe.forThisHost(env));
                }
                e = engine;
            }
        }
        return e;
    }

    public Counters counters(String id) {
        return counters.computeIfAbsent(id, k -> new Counters());
    }

    // --- create ---------------------------------------------------------------------------------

    /**
     * Validates the options, resolves the image (pulling it if it is not stored), pins it and
     * persists the box as configured. Nothing boots.
     */
    public BoxDatabase.Row create(BoxOptions o, Optional<String> name) {
        ensureOpen();
        validate(o, name);
        requireSpace(home.root(), MIN_FREE_CREATE, "create a box");
        ImageRecord image = resolveImage(o);
        BoxConfig config = new BoxConfig(Ulid.next(), name, Instant.now(), o, image.reference(),
                image.manifestDigest().toString(), ImageDefaults.of(images.config(image)));
        BoxStatus status = BoxStatus.configured();
        images.pin(image.manifestDigest(), holder(config.id()));
        try {
            if (o.diskSizeGb() > 0) {
                // why: only the built base tells whether the requested disk can hold the image
                BoxDisks.virtualSize(o.diskSizeGb(), rootfsBuilder().build(image).size(), image.reference());
            }
            store.create(config, status);
        } catch (RuntimeException e) {
            images.unpin(image.manifestDigest(), holder(config.id()));
            throw e;
        }
        boxesCreated.incrementAndGet();
        return new BoxDatabase.Row(config, status);
    }

    /** Free space a box needs to be created: its config, logs and database rows. */
    static final long MIN_FREE_CREATE = 1 << 20;

    /**
     * Fails early, with a clear message, when the filesystem of {@code dir} is (nearly) full.
     *
     * @throws BoxliteException ({@link ErrorCode#RESOURCE_EXHAUSTED}) if less than {@code bytes} are free
     */
    static void requireSpace(Path dir, long bytes, String what) {
        long free;
        try {
            free = Files.getFileStore(dir).getUsableSpace();
        } catch (IOException e) {
            throw new io.boxlite.StorageException("Cannot read the free space of " + dir + ": " + e.getMessage(), e);
        }
        if (free < bytes) {
            throw new BoxliteException(ErrorCode.RESOURCE_EXHAUSTED, "Cannot " + what + ": the filesystem of " + dir
                    + " has only " + free / 1024 + " KiB free (" + bytes / 1024 + " KiB needed); free some space");
        }
    }

    private static String holder(String id) {
        return "box:" + id;
    }

    /** The largest root disk a box may ask for, in GiB (64 TiB). */
    static final long MAX_DISK_SIZE_GB = 64 * 1024;

    static void validate(BoxOptions o, Optional<String> name) {
        name.ifPresent(n -> {
            if (!NAME.matcher(n).matches()) {
                throw new InvalidArgumentException("name: '" + n + "' is not a valid box name: use 1 to 128 "
                        + "characters from [A-Za-z0-9_.-], starting with a letter or digit");
            }
        });
        if (o.cpus() < 1 || o.cpus() > BoxOptions.MAX_CPUS) {
            throw new InvalidArgumentException("cpus: must be within 1.." + BoxOptions.MAX_CPUS + ", got " + o.cpus());
        }
        if (o.memoryMib() < BoxOptions.MIN_MEMORY_MIB) {
            throw new InvalidArgumentException("memoryMib: must be at least " + BoxOptions.MIN_MEMORY_MIB
                    + " MiB to boot the guest, got " + o.memoryMib());
        }
        if (o.memoryMib() > 1024 * 1024) {
            throw new InvalidArgumentException("memoryMib: " + o.memoryMib() + " MiB is more than 1 TiB");
        }
        if (o.diskSizeGb() < 0 || o.diskSizeGb() > MAX_DISK_SIZE_GB) {
            throw new InvalidArgumentException("diskSizeGb: must be within 0.." + MAX_DISK_SIZE_GB
                    + " GiB (0 = the image's size), got "
                    + o.diskSizeGb());
        }
        if (o.rootfsPath().isEmpty()) {
            try {
                ImageReference.parse(o.image());
            } catch (BoxliteException e) {
                throw new InvalidArgumentException("image: " + e.getMessage(), e);
            }
        } else if (!o.rootfsPath().get().isAbsolute()) {
            throw new InvalidArgumentException("rootfsPath: must be absolute, got '" + o.rootfsPath().get() + "'");
        }
        o.workingDir().ifPresent(d -> {
            if (!d.startsWith("/")) {
                throw new InvalidArgumentException("workingDir: must be an absolute path in the box, got '" + d + "'");
            }
        });
        o.env().forEach((k, v) -> {
            if (k.isEmpty() || k.indexOf('=') >= 0 || k.indexOf('\0') >= 0 || v.indexOf('\0') >= 0) {
                throw new InvalidArgumentException("env: key '" + k + "' is empty or contains '=' or NUL");
            }
        });
        o.entrypoint().ifPresent(l -> checkArgv("entrypoint", l));
        o.cmd().ifPresent(l -> checkArgv("cmd", l));
        o.user().ifPresent(u -> {
            if (u.isEmpty() || u.indexOf('\0') >= 0 || u.indexOf(' ') >= 0) {
                throw new InvalidArgumentException("user: '" + u + "' is not name|uid[:group|gid]");
            }
        });
        for (VolumeSpec v : o.volumes()) {
            if (!v.hostPath().isAbsolute()) {
                throw new InvalidArgumentException("volumes: host path '" + v.hostPath() + "' must be absolute");
            }
            if (!v.guestPath().startsWith("/")) {
                throw new InvalidArgumentException("volumes: guest path '" + v.guestPath() + "' must be absolute");
            }
        }
        for (PortSpec p : o.ports()) {
            if (p.guestPort() < 1 || p.guestPort() > 65535 || p.hostPort() < 0 || p.hostPort() > 65535) {
                throw new InvalidArgumentException("ports: " + p.hostPort() + ":" + p.guestPort()
                        + " is outside 1..65535");
            }
            if (!p.protocol().equals("tcp") && !p.protocol().equals("udp")) {
                throw new InvalidArgumentException("ports: protocol must be tcp or udp, got '" + p.protocol() + "'");
            }
        }
        if (!o.volumes().isEmpty()) {
            throw new UnsupportedException("volumes: sharing host directories into a box is not supported yet "
                    + "(the shared-folder device is still to come); copy files in with copyIn / 'boxlite cp'");
        }
        if (!o.ports().isEmpty()) {
            throw new UnsupportedException("ports: publishing ports is not supported yet (boxes have no network "
                    + "device until the network back end lands)");
        }
        if (o.network() != NetworkMode.NONE) {
            throw new UnsupportedException("network: boxes have no network yet (the network back end is still to "
                    + "come); leave network at NONE");
        }
    }

    private static void checkArgv(String field, List<String> argv) {
        for (String a : argv) {
            if (a.indexOf('\0') >= 0) {
                throw new InvalidArgumentException(field + ": arguments must not contain NUL");
            }
        }
        if (!argv.isEmpty() && argv.getFirst().isEmpty()) {
            throw new InvalidArgumentException(field + ": the program name is empty");
        }
    }

    private ImageRecord resolveImage(BoxOptions o) {
        if (o.rootfsPath().isPresent()) {
            Path dir = o.rootfsPath().get();
            if (!Files.isRegularFile(dir.resolve("index.json"))) {
                throw new InvalidArgumentException("rootfsPath: " + dir + " is not an OCI image layout (no index.json)");
            }
            List<ImageRecord> imported = images.importer().importLayout(dir, Optional.empty(),
                    Optional.of(ImageReference.parse("localhost/rootfs-" + Integer.toHexString(dir.toString().hashCode())
                            + ":latest")), Platform.host());
            if (imported.size() != 1) {
                throw new InvalidArgumentException("rootfsPath: " + dir + " holds " + imported.size()
                        + " images; it must hold exactly one");
            }
            return imported.getFirst();
        }
        Optional<ImageRecord> local = images.find(o.image());
        if (local.isPresent()) {
            return local.get();
        }
        LOG.log(System.Logger.Level.INFO, "Image {0} is not stored; pulling it", o.image());
        try {
            return new ImagePuller(images, RegistryOptions.defaults()).pull(o.image());
        } catch (ImageException e) {
            throw new BoxliteException(ErrorCode.IMAGE, "Image " + o.image() + " is not stored and cannot be pulled: "
                    + e.getMessage() + " (on an offline machine, 'boxlite load' an image first)", e);
        }
    }

    /** The stored image a box was made from (for building its disk). */
    ImageRecord imageRecord(BoxConfig config) {
        Optional<ImageRecord> tagged = images.find(config.imageReference())
                .filter(r -> r.manifestDigest().toString().equals(config.manifestDigest()));
        if (tagged.isPresent()) {
            return tagged.get();
        }
        Digest digest = Digest.parse(config.manifestDigest());
        return images.list().stream().filter(r -> r.manifestDigest().equals(digest)).findFirst()
                .orElseThrow(() -> new BoxliteException(ErrorCode.IMAGE, "The image of box " + config.id() + " ("
                        + config.imageReference() + ") is no longer tagged in the store: pull or load it again"));
    }

    /** Builds the ext4 bases of images, within this runtime's unpack limit. */
    public RootfsBuilder rootfsBuilder() {
        return RootfsBuilder.create(images).withMaxUnpackedBytes(RootfsBuilder.maxUnpackedBytes(options, env));
    }

    // --- lookup ---------------------------------------------------------------------------------

    /** A box by id, name or unique id prefix. */
    public Optional<BoxDatabase.Row> find(String idOrName) {
        ensureOpen();
        if (idOrName == null || idOrName.isEmpty()) {
            throw new InvalidArgumentException("A box id or name is required");
        }
        Optional<BoxDatabase.Row> byId = Ulid.isUlid(idOrName) ? store.find(idOrName) : Optional.empty();
        if (byId.isPresent()) {
            return byId;
        }
        Optional<BoxDatabase.Row> byName = store.findByName(idOrName);
        if (byName.isPresent()) {
            return byName;
        }
        if (!idOrName.matches("[0-9A-Za-z]+")) {
            return Optional.empty();
        }
        List<BoxDatabase.Row> byPrefix = store.findByIdPrefix(idOrName);
        if (byPrefix.size() > 1) {
            throw new InvalidArgumentException("'" + idOrName + "' matches " + byPrefix.size()
                    + " boxes; give more of the id");
        }
        return byPrefix.stream().findFirst();
    }

    public BoxDatabase.Row get(String idOrName) {
        return find(idOrName).orElseThrow(() -> new NotFoundException("No such box: " + idOrName));
    }

    /** The box's current row, refreshed from the store (and checked against its host's liveness). */
    public BoxDatabase.Row refresh(String id) {
        BoxDatabase.Row row = store.find(id).orElseThrow(() -> new NotFoundException("No such box: " + id
                + " (it was removed)"));
        BoxState s = row.status().state();
        if ((s == BoxState.RUNNING || s == BoxState.STOPPING) && !hosts.containsKey(id)
                && !store.hostAlive(id, row.status())) {
            store.recover(r -> removeStopped(r.config().id()));
            return store.find(id).orElseThrow(() -> new NotFoundException("No such box: " + id
                    + " (it was removed when its host died)"));
        }
        return row;
    }

    public List<BoxDatabase.Row> list() {
        ensureOpen();
        return store.list();
    }

    // --- start / stop ---------------------------------------------------------------------------

    /**
     * Starts the box unless it runs: in this process, or in a box host process of its own when
     * the box is detached (or {@code forceDetach}). A box with a main command of its own runs it,
     * and stops when it ends, unless {@code attachMain} (the caller runs it, e.g. {@code boxlite run}).
     */
    public BoxDatabase.Row start(String id, boolean forceDetach, boolean attachMain) {
        ensureOpen();
        Path dir = store.boxDir(id);
        try (FileLocks.Held op = HostLocks.op(dir, id)) {
            BoxDatabase.Row row = refresh(id);
            if (row.status().state() == BoxState.RUNNING) {
                return row;
            }
            if (row.status().state() == BoxState.STOPPING) {
                throw new InvalidStateException("Box " + id + " is stopping; start it again once it has stopped");
            }
            boolean detach = forceDetach || row.config().options().detach();
            BoxHost.Main main = row.config().hasMainCommand() && !attachMain ? BoxHost.Main.HOSTED : BoxHost.Main.NONE;
            try {
                if (detach) {
                    DetachedHosts.spawn(this, row.config(), main);
                } else {
                    BoxHost host = BoxHost.start(this, row.config(), row.status(), false, main);
                    hosts.put(id, host);
                    host.stopped().whenComplete((s, t) -> hosts.remove(id, host));
                }
            } catch (RuntimeException e) {
                boxesFailed.incrementAndGet();
                throw e;
            }
            return store.find(id).orElseThrow(() -> new NotFoundException("Box " + id + " was removed while it "
                    + "started (it stopped at once and was removed on stop)"));
        }
    }

    /** Stops the box (no-op unless running); an auto-remove box is removed. */
    public void stop(String id, Duration grace) {
        ensureOpen();
        BoxHost local = hosts.get(id);
        if (local != null) {
            local.stop(grace);
            return;
        }
        Path dir = store.boxDir(id);
        if (!Files.isDirectory(dir)) {
            throw new NotFoundException("No such box: " + id);
        }
        try (FileLocks.Held op = HostLocks.op(dir, id)) {
            BoxDatabase.Row row = refresh(id);
            if (row.status().state() != BoxState.RUNNING && row.status().state() != BoxState.STOPPING) {
                return;
            }
            dropRemote(id);
            new HostClient(BoxHost.socketPath(this, id)).stop(grace);
            awaitHostGone(id, row.status(), grace.plus(BoxHost.POWER_OFF_WAIT).plus(Duration.ofSeconds(20)));
        }
    }

    private void awaitHostGone(String id, BoxStatus running, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<BoxDatabase.Row> row = store.find(id);
            if (row.isEmpty() || (row.get().status().state() != BoxState.RUNNING
                    && row.get().status().state() != BoxState.STOPPING)) {
                return;
            }
            if (!store.hostAlive(id, running)) {
                store.recover(r -> removeStopped(r.config().id()));
                return;
            }
            sleep(50);
        }
        throw new BoxliteException(ErrorCode.ENGINE, "Box " + id + " did not stop within " + timeout.toSeconds() + " s");
    }

    /**
     * Removes the box; a running box needs {@code force} (it is stopped first).
     *
     * @throws InvalidStateException if it runs and {@code force} is false
     */
    public void remove(String id, boolean force) {
        ensureOpen();
        BoxDatabase.Row row = refresh(id);
        if (!row.status().state().canRemove()) {
            if (!force) {
                throw new InvalidStateException("Box " + id + " is " + row.status().state().label()
                        + ": stop it first, or remove it with force (rm -f)");
            }
            stop(id, BoxRuntime.DEFAULT_STOP_GRACE);
            if (store.find(id).isEmpty()) {
                return; // removed on stop
            }
        }
        Path dir = store.boxDir(id);
        try (FileLocks.Held op = HostLocks.op(dir, id)) {
            BoxDatabase.Row now = store.find(id).orElse(null);
            if (now == null) {
                return;
            }
            if (!now.status().state().canRemove() && store.hostAlive(id, now.status())) {
                throw new InvalidStateException("Box " + id + " was started again meanwhile; stop it first");
            }
            removeRow(now.config());
        }
    }

    /** Removes a box that just stopped (auto-remove), by whichever process noticed. */
    void removeStopped(String id) {
        store.find(id).ifPresent(row -> removeRow(row.config()));
    }

    private void removeRow(BoxConfig config) {
        dropRemote(config.id());
        store.delete(config.id(), c -> {
            try {
                images.unpin(Digest.parse(c.manifestDigest()), holder(c.id()));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "Unpinning the image of box {0}: {1}", c.id(), e.getMessage());
            }
        });
        counters.remove(config.id());
    }

    // --- the agent ------------------------------------------------------------------------------

    /** The agent of a running box, wherever it is hosted. */
    public AgentClient agent(String id) {
        BoxHost local = hosts.get(id);
        if (local != null) {
            return local.agent();
        }
        BoxDatabase.Row row = refresh(id);
        if (row.status().state() != BoxState.RUNNING) {
            throw new BoxliteException(ErrorCode.STOPPED, "Box " + id + " is " + row.status().state().label());
        }
        String host = row.status().host().orElse("");
        RemoteAgent cached = remotes.get(id);
        if (cached != null && cached.host().equals(host)) {
            return cached.agent();
        }
        AgentClient agent = AgentClient.connect(new HostClient(BoxHost.socketPath(this, id)).connector(),
                AgentClient.DEFAULT_PORT);
        RemoteAgent previous = remotes.put(id, new RemoteAgent(host, agent));
        if (previous != null) {
            previous.agent().close();
        }
        return agent;
    }

    /**
     * Starts {@code request} in the background in running box {@code id}, owned by the box's
     * host wherever it is, so it outlives this process.
     *
     * @throws BoxliteException ({@link ErrorCode#STOPPED}) if the box is not running
     * @throws NotFoundException if the command, its directory or its user is missing in the box
     */
    public DetachedExec execDetached(String id, ExecRequest request) {
        ensureOpen();
        BoxHost local = hosts.get(id);
        if (local != null) {
            return execLocally(local, request);
        }
        BoxDatabase.Row row = refresh(id);
        if (row.status().state() != BoxState.RUNNING) {
            throw new BoxliteException(ErrorCode.STOPPED, "Box " + id + " is " + row.status().state().label());
        }
        return new HostClient(BoxHost.socketPath(this, id)).execDetached(request, store.boxDir(id));
    }

    private static DetachedExec execLocally(BoxHost host, ExecRequest request) {
        try {
            return host.execDetached(request);
        } catch (GuestAgentException e) {
            throw e.notFound() ? new NotFoundException(e.getMessage(), e) : e;
        }
    }

    private void dropRemote(String id) {
        RemoteAgent r = remotes.remove(id);
        if (r != null) {
            r.agent().close();
        }
    }

    /** The in-process host of a box, if this process hosts it. */
    public Optional<BoxHost> localHost(String id) {
        return Optional.ofNullable(hosts.get(id));
    }

    /**
     * The process running a box's guest CPUs: QEMU's (from its PID file), or, on the KVM engine,
     * the box's host process (the VM lives in it).
     */
    public Optional<Long> enginePid(String id) {
        BoxHost local = hosts.get(id);
        if (local != null) {
            return Optional.of(local.enginePid());
        }
        BoxStatus status = store.find(id).map(BoxDatabase.Row::status).orElse(null);
        if (status != null && status.engine().filter("kvm"::equals).isPresent()) {
            return status.host().flatMap(io.boxlite.engine.qemu.ProcessIdentity::decode)
                    .filter(io.boxlite.engine.qemu.ProcessIdentity::isStillRunning)
                    .map(io.boxlite.engine.qemu.ProcessIdentity::pid);
        }
        Path pid = store.boxDir(id).resolve("vm").resolve("qemu.pid");
        try {
            return io.boxlite.engine.qemu.ProcessIdentity.decode(Files.readString(pid))
                    .filter(io.boxlite.engine.qemu.ProcessIdentity::isStillRunning)
                    .map(io.boxlite.engine.qemu.ProcessIdentity::pid);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    public long boxesCreated() {
        return boxesCreated.get();
    }

    public long boxesFailed() {
        return boxesFailed.get();
    }

    public int runningInProcess() {
        return hosts.size();
    }

    public boolean isClosed() {
        return closed;
    }

    private void ensureOpen() {
        if (closed) {
            throw new InvalidStateException("The BoxLite runtime is closed");
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.INTERNAL, "Interrupted", e);
        }
    }

    /**
     * Stops the boxes this process hosts (detached boxes keep running) and closes the stores.
     * Idempotent.
     */
    public void shutdown(Duration grace) {
        if (closed) {
            return;
        }
        closed = true;
        List<Thread> stopping = new ArrayList<>();
        for (BoxHost host : hosts.values()) {
            stopping.add(Thread.ofVirtual().start(() -> {
                try {
                    host.stop(grace);
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "Stopping box {0}: {1}", host.config().id(), e.getMessage());
                }
            }));
        }
        for (Thread t : stopping) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        remotes.values().forEach(r -> r.agent().close());
        remotes.clear();
        images.close();
        store.close();
    }

    @Override
    public void close() {
        shutdown(DEFAULT_STOP_GRACE);
    }
}
