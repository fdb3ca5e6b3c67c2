package io.boxlite.engine.qemu;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.GuestConnector;
import io.boxlite.disk.DiskImage;
import io.boxlite.engine.VsockGuestConnector;
import io.boxlite.home.SocketPaths;
import io.boxlite.vmm.devices.virtio.block.BlockDevice;
import io.boxlite.vmm.devices.virtio.block.BlockMetrics;
import io.boxlite.vmm.devices.virtio.vsock.VsockDevice;
import io.boxlite.vmm.transport.vhostuser.VhostUserBackend;

import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A Linux guest on the QEMU engine: QEMU runs the CPU, and BoxLite's Java devices — the root
 * disk (virtio-blk) and the agent channel (virtio-vsock) — are served to it over vhost-user.
 * The guest's init is the agent, which mounts the disk as its root.
 *
 * <p>Any failure of a device session (QEMU vanished, a protocol error) is reported through
 * {@code onFailure}; {@link #close()} releases QEMU, sockets and devices in every case.
 */
public final class QemuGuest implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(QemuGuest.class.getName());
    /** The guest's vsock context id: one guest per device, so a fixed value is enough. */
    public static final long GUEST_CID = 3;

    /**
     * What to boot. {@code stateDir} holds the box's sockets, console and QEMU log. The guest
     * owns {@code rootDisk} from {@link #start} on: {@link #close()} flushes and closes it.
     */
    public record Spec(Path qemu, boolean kvm, int cpus, int memoryMib, Path kernel, Path initramfs,
                       DiskImage rootDisk, Path stateDir, List<String> extraKernelArgs,
                       List<String> extraQemuArguments) {
        public Spec {
            extraKernelArgs = List.copyOf(extraKernelArgs);
            extraQemuArguments = List.copyOf(extraQemuArguments);
        }

        public Spec(Path qemu, boolean kvm, int cpus, int memoryMib, Path kernel, Path initramfs,
                    DiskImage rootDisk, Path stateDir, List<String> extraKernelArgs) {
            this(qemu, kvm, cpus, memoryMib, kernel, initramfs, rootDisk, stateDir, extraKernelArgs, List.of());
        }
    }

    private final VsockDevice vsock;
    private final BlockDevice disk;
    private final DiskImage rootDisk;
    private final List<VhostUserBackend> backends;
    private final QemuProcess process;
    private final Path stateDir;
    private final GuestConnector connector;

    private QemuGuest(VsockDevice vsock, BlockDevice disk, DiskImage rootDisk, List<VhostUserBackend> backends,
                      QemuProcess process, Path stateDir) {
        this.vsock = vsock;
        this.disk = disk;
        this.rootDisk = rootDisk;
        this.backends = backends;
        this.process = process;
        this.stateDir = stateDir;
        this.connector = new VsockGuestConnector(vsock.host());
    }

    /** Starts the device back ends, then QEMU; returns once QEMU answers on QMP. */
    public static QemuGuest start(Spec spec, Consumer<String> onFailure) {
        List<VhostUserBackend> backends = new ArrayList<>();
        VsockDevice vsock = new VsockDevice(GUEST_CID);
        BlockDevice disk = new BlockDevice(spec.rootDisk(), "boxlite-root");
        try {
            Files.createDirectories(spec.stateDir());
            Path sockets = SocketPaths.resolve().shortDir(spec.stateDir());
            VhostUserBackend vsockBackend = VhostUserBackend.listen(sockets.resolve("vsock.sock"), vsock, "vsock",
                    reason -> onFailure.accept("vsock device: " + reason));
            backends.add(vsockBackend);
            VhostUserBackend diskBackend = VhostUserBackend.listen(sockets.resolve("disk.sock"), disk, "disk",
                    reason -> onFailure.accept("disk device: " + reason));
            backends.add(diskBackend);

            List<String> kernelArgs = new ArrayList<>(List.of("console=ttyS0", "quiet", "panic=-1",
                    "boxlite.root=/dev/vda"));
            if (!spec.kvm()) {
                kernelArgs.add(TcgClock.kernelArguments());
            }
            kernelArgs.addAll(spec.extraKernelArgs());
            QemuCommandLine cmd = new QemuCommandLine(spec.qemu(), spec.kvm(), spec.cpus(), spec.memoryMib(),
                    spec.kernel(), spec.initramfs(), String.join(" ", kernelArgs),
                    spec.stateDir().resolve("console.log"), sockets.resolve("qmp.sock"),
                    List.of(new QemuCommandLine.VhostUserDevice("vhost-user-vsock-device", vsockBackend.socketPath(), List.of()),
                            new QemuCommandLine.VhostUserDevice("vhost-user-blk", diskBackend.socketPath(),
                                    List.of("num-queues=1"))),
                    spec.extraQemuArguments());
            QemuProcess process = QemuProcess.start(cmd, spec.stateDir(), spec.stateDir().resolve("qemu.log"),
                    Duration.ofSeconds(10));
            return new QemuGuest(vsock, disk, spec.rootDisk(), backends, process, spec.stateDir());
        } catch (java.io.IOException e) {
            backends.forEach(VhostUserBackend::close);
            spec.rootDisk().close();
            throw new BoxliteException(ErrorCode.STORAGE, "Cannot create the box's state directory " + spec.stateDir(), e);
        } catch (RuntimeException e) {
            backends.forEach(VhostUserBackend::close);
            spec.rootDisk().close();
            throw e;
        }
    }

    /** Opens streams to guest vsock ports. */
    public GuestConnector connector() {
        return connector;
    }

    /**
     * Waits until the agent answers its handshake, retrying while the guest boots; gives up
     * after {@code timeout}, or at once if QEMU exits meanwhile.
     */
    public AgentClient awaitAgent(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new BoxliteException(ErrorCode.ENGINE, "The guest stopped while booting; console: "
                        + QemuProcess.lastLines(stateDir.resolve("console.log"), 8));
            }
            try {
                return AgentClient.connect(connector, AgentClient.DEFAULT_PORT, Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                last = e;
                sleep(100);
            }
        }
        throw new BoxliteException(ErrorCode.ENGINE, "The guest agent did not answer within " + timeout.toSeconds()
                + " s; console: " + QemuProcess.lastLines(stateDir.resolve("console.log"), 8), last);
    }

    /** Waits for QEMU to exit by itself (the guest powered off). */
    public Optional<Integer> awaitExit(Duration timeout) throws InterruptedException {
        return process.awaitExit(timeout);
    }

    /** What the root disk's device has served so far. */
    public BlockMetrics diskMetrics() {
        return disk.metrics();
    }

    public QemuProcess process() {
        return process;
    }

    /** Kills QEMU if it still runs, releases devices and sockets, and closes the root disk; idempotent. */
    @Override
    public void close() {
        try {
            process.close();
        } finally {
            for (VhostUserBackend b : backends) {
                try {
                    b.close();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "Closing a device back end: " + e);
                }
            }
            disk.reset();
            vsock.reset();
            try {
                rootDisk.close(); // flushes: the guest's last writes reach the file
            } finally {
                SocketPaths.resolve().release(stateDir);
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.ENGINE, "Interrupted while waiting for the guest", e);
        }
    }
}
