package io.boxlite.engine.kvm;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.StorageException;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.GuestConnector;
import io.boxlite.disk.DiskImage;
import io.boxlite.engine.VsockGuestConnector;
import io.boxlite.vmm.devices.legacy.ConsoleLog;
import io.boxlite.vmm.devices.virtio.block.BlockDevice;
import io.boxlite.vmm.devices.virtio.vsock.VsockDevice;
import io.boxlite.vmm.vstate.Vm;
import io.boxlite.vmm.vstate.VmConfig;
import io.boxlite.vmm.vstate.VmExit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A Linux guest on the KVM engine: BoxLite's own VMM runs the CPU, and the same Java devices the
 * QEMU engine serves over vhost-user — the root disk (virtio-blk, the guest's {@code /dev/vda})
 * and the agent channel (virtio-vsock) — sit on virtio-mmio transports with ioeventfd kicks and
 * irqfd interrupts. The guest's init is the agent, which mounts the disk as its root.
 *
 * <p>The guest ends the run by rebooting ({@code reboot=k}): ask the agent for
 * {@link io.boxlite.agent.ShutdownAction#REBOOT}. {@link #close()} stops the VM if it still runs,
 * resets the devices and closes the root disk.
 */
public final class KvmGuest implements AutoCloseable {
    /** The guest's vsock context id: one guest per device, so a fixed value is enough. */
    public static final long GUEST_CID = 3;

    /**
     * The kernel and initramfs, read once and shared (never modified) by every VM booted from
     * them: a box pays neither the reads nor a heap copy of ~20 MB.
     */
    public record BootImages(String kernelName, byte[] kernel, byte[] initramfs) {
        public BootImages {
            Objects.requireNonNull(kernelName, "kernelName");
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(initramfs, "initramfs");
        }

        /**
         * Reads both files.
         *
         * @throws io.boxlite.NotFoundException if one does not exist
         */
        public static BootImages read(Path kernel, Path initramfs) {
            requireFile(kernel, "kernel");
            requireFile(initramfs, "initramfs");
            try {
                return new BootImages(kernel.toString(), Files.readAllBytes(kernel), Files.readAllBytes(initramfs));
            } catch (IOException e) {
                throw new StorageException("Cannot read the box's kernel or initramfs: " + e.getMessage(), e);
            }
        }
    }

    /** What to boot; the console goes to {@code console}. */
    public record Spec(int cpus, long memoryMib, BootImages images, DiskImage rootDisk, ConsoleLog console,
                       List<String> extraKernelArgs) {
        public Spec {
            Objects.requireNonNull(images, "images");
            Objects.requireNonNull(rootDisk, "rootDisk");
            Objects.requireNonNull(console, "console");
            extraKernelArgs = List.copyOf(extraKernelArgs);
        }

        /** A spec that reads the kernel and initramfs from files. */
        public Spec(int cpus, long memoryMib, Path kernel, Path initramfs, DiskImage rootDisk, ConsoleLog console,
                    List<String> extraKernelArgs) {
            this(cpus, memoryMib, BootImages.read(kernel, initramfs), rootDisk, console, extraKernelArgs);
        }
    }

    private final Vm vm;
    private final VsockDevice vsock;
    private final GuestConnector connector;
    private final DiskImage rootDisk;

    private KvmGuest(Vm vm, VsockDevice vsock, DiskImage rootDisk) {
        this.vm = vm;
        this.vsock = vsock;
        this.rootDisk = rootDisk;
        this.connector = new VsockGuestConnector(vsock.host());
    }

    /** The kernel command line a box boots with: quiet console, reboot as exit, the agent's root disk. */
    public static String commandLine(List<String> extra) {
        List<String> words = new ArrayList<>(List.of(VmConfig.DEFAULT_LINUX_CMDLINE, "quiet", "boxlite.root=/dev/vda"));
        words.addAll(extra);
        return String.join(" ", words);
    }

    /**
     * Creates the VM with its devices and lets it run; returns at once (the guest boots meanwhile).
     * The guest owns {@code spec.rootDisk()} and {@code spec.console()} from here on: they are
     * closed with it, or at once if it cannot start.
     */
    public static KvmGuest start(Spec spec) {
        Vm vm = null;
        try {
            VsockDevice vsock = new VsockDevice(GUEST_CID);
            BlockDevice disk = new BlockDevice(spec.rootDisk(), "boxlite-root");
            BootImages images = spec.images();
            // the canonical constructor shares the image arrays; the builder would copy them
            VmConfig config = new VmConfig(spec.cpus(), spec.memoryMib(), images.kernel(), images.kernelName(),
                    Optional.of(images.initramfs()), commandLine(spec.extraKernelArgs()), VmConfig.ApStart.WAIT_FOR_SIPI,
                    spec.console(), List.of(), List.of(disk, vsock));
            vm = Vm.create(config);
            vm.start();
            return new KvmGuest(vm, vsock, spec.rootDisk());
        } catch (RuntimeException e) {
            try {
                if (vm != null) {
                    vm.close();
                } else {
                    spec.console().close(); // idempotent: a failed Vm.create may already have closed it
                }
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            } finally {
                spec.rootDisk().close();
            }
            throw e;
        }
    }

    private static void requireFile(Path path, String what) {
        if (!Files.isRegularFile(path)) {
            throw new io.boxlite.NotFoundException("The box's " + what + " " + path + " does not exist");
        }
    }

    /** Opens streams to guest vsock ports. */
    public GuestConnector connector() {
        return connector;
    }

    public Vm vm() {
        return vm;
    }

    /**
     * Waits until the agent answers its handshake, retrying while the guest boots; gives up after
     * {@code timeout}, or at once if the VM exits meanwhile.
     */
    public AgentClient awaitAgent(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            Optional<VmExit> exit = vm.exit();
            if (exit.isPresent()) {
                throw new BoxliteException(ErrorCode.ENGINE, "The guest stopped while booting (" + exit.get()
                        + "); console:\n" + vm.config().console().tail());
            }
            try {
                return AgentClient.connect(connector, AgentClient.DEFAULT_PORT, Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                last = e;
                sleep(50);
            }
        }
        throw new BoxliteException(ErrorCode.ENGINE, "The guest agent did not answer within " + timeout.toSeconds()
                + " s; console:\n" + vm.config().console().tail(), last);
    }

    /** Waits for the guest to end the run; empty on timeout. */
    public Optional<VmExit> awaitExit(Duration timeout) throws InterruptedException {
        return vm.awaitExit(timeout);
    }

    public VsockDevice vsock() {
        return vsock;
    }

    /** Stops the VM if it still runs, releases it and its devices, and closes (flushing) the root disk; idempotent. */
    @Override
    public void close() {
        try {
            vm.close();
        } finally {
            rootDisk.close(); // after the vCPUs and the device threads stopped: no request is in flight
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
