package io.boxlite.engine;

import io.boxlite.StorageException;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.GuestConnector;
import io.boxlite.agent.ShutdownAction;
import io.boxlite.engine.kvm.KvmGuest;
import io.boxlite.vmm.devices.legacy.ConsoleLog;
import io.boxlite.vmm.memory.ResidentPages;
import io.boxlite.vmm.vstate.VmExit;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The KVM engine behind {@link BoxEngine}: BoxLite's own VMM ({@link KvmGuest}) runs the guest in
 * this process — vCPUs on platform threads, the root disk and the agent channel as Java virtio
 * devices on virtio-mmio. The console goes to {@code console.log} in the state directory, as on
 * the QEMU engine; a vCPU failure is reported through {@code onFailure}.
 *
 * {@snippet :
 * BoxVm vm = engine.boot(new BoxEngine.VmSpec(1, 512, disk, stateDir), reason -> log(reason));
 * try (vm; AgentClient agent = vm.awaitAgent(Duration.ofSeconds(30))) {
 *     agent.shutdown(vm.stopAction(), Duration.ofSeconds(5));
 * }
 * }
 */
public final class KvmBoxEngine implements BoxEngine {
    private static final System.Logger LOG = System.getLogger(KvmBoxEngine.class.getName());
    /** What {@code console.log} may grow to; the guest cannot fill the disk through its console. */
    static final long CONSOLE_LOG_LIMIT = 16L << 20;
    private static final int CONSOLE_TAIL = 16 << 10;

    private final Path kernel;
    private final Path initramfs;
    private final Supplier<Path> growingInitramfs;
    private final String reason;
    private volatile KvmGuest.BootImages images;
    private volatile KvmGuest.BootImages growingImages;

    /**
     * @param initramfs        what boxes boot
     * @param growingInitramfs what boxes whose root filesystem may need growing boot (built, or
     *                         found in the cache, on first use)
     */
    public KvmBoxEngine(Path kernel, Path initramfs, Supplier<Path> growingInitramfs, String reason) {
        this.kernel = Objects.requireNonNull(kernel, "kernel");
        this.initramfs = Objects.requireNonNull(initramfs, "initramfs");
        this.growingInitramfs = Objects.requireNonNull(growingInitramfs, "growingInitramfs");
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** Boxes that never grow their root filesystem, e.g. in tests and the lab. */
    public KvmBoxEngine(Path kernel, Path initramfs, String reason) {
        this(kernel, initramfs, () -> initramfs, reason);
    }

    @Override
    public String name() {
        return "kvm";
    }

    @Override
    public String reason() {
        return reason;
    }

    /**
     * Creates the VM and lets it run. The engine owns {@code spec.rootDisk()} from here on: it is
     * closed with the VM, or at once when the boot fails.
     *
     * @throws StorageException if the state directory or the console log cannot be created
     */
    @Override
    public BoxVm boot(VmSpec spec, Consumer<String> onFailure) {
        KvmGuest.BootImages boot = images(spec);
        Path consoleLog = spec.stateDir().resolve("console.log");
        ConsoleLog console;
        try {
            Files.createDirectories(spec.stateDir());
            console = ConsoleLog.toStream(Files.newOutputStream(consoleLog), CONSOLE_LOG_LIMIT, CONSOLE_TAIL);
        } catch (IOException e) {
            spec.rootDisk().close();
            throw new StorageException("Cannot create the box's console log " + consoleLog + ": " + e.getMessage(), e);
        }
        KvmGuest guest = KvmGuest.start(new KvmGuest.Spec(spec.cpus(), spec.memoryMib(), boot,
                spec.rootDisk(), console, List.of()));
        reportFailure(guest.vm().onExit(), onFailure);
        return new Vm(guest, consoleLog);
    }

    /** The boot images, read at the first boot and shared by every later one (the files are content-addressed caches). */
    private KvmGuest.BootImages images(VmSpec spec) {
        KvmGuest.BootImages i = spec.growRoot() ? growingImages : images;
        if (i == null) {
            try {
                i = KvmGuest.BootImages.read(kernel, spec.growRoot() ? growingInitramfs.get() : initramfs);
            } catch (RuntimeException e) {
                spec.rootDisk().close();
                throw e;
            }
            if (spec.growRoot()) {
                growingImages = i;
            } else {
                images = i;
            }
        }
        return i;
    }

    private record Vm(KvmGuest guest, Path consoleLog) implements BoxVm {
        @Override
        public GuestConnector connector() {
            return guest.connector();
        }

        @Override
        public AgentClient awaitAgent(Duration timeout) {
            return guest.awaitAgent(timeout);
        }

        @Override
        public boolean isAlive() {
            return guest.vm().exit().isEmpty();
        }

        @Override
        public Optional<Integer> awaitExit(Duration timeout) throws InterruptedException {
            return guest.awaitExit(timeout).map(KvmBoxEngine::status);
        }

        @Override
        public ShutdownAction stopAction() {
            return ShutdownAction.REBOOT;
        }

        @Override
        public Optional<Long> guestResidentBytes() {
            return Optional.of(ResidentPages.bytes(guest.vm().memory()));
        }

        @Override
        public long pid() {
            return ProcessHandle.current().pid();
        }

        @Override
        public void close() {
            guest.close();
        }
    }

    /** Tells {@code onFailure} when the run ends in a failure, on a virtual thread: never on the vCPU thread that ended it. */
    static void reportFailure(CompletableFuture<VmExit> exit, Consumer<String> onFailure) {
        exit.thenAcceptAsync(e -> {
            if (e instanceof VmExit.Failed f) {
                LOG.log(Level.WARNING, "The box VM failed: {0}", f);
                onFailure.accept("vCPU " + f.vcpu() + " failed: " + f.reason());
            }
        }, task -> Thread.ofVirtual().name("boxlite-kvm-exit").start(task));
    }

    /** The exit as a status: 0 when the guest or the host ended the run, the guest's own status, 1 on failure. */
    static int status(VmExit exit) {
        return switch (exit) {
            case VmExit.GuestStatus s -> s.status();
            case VmExit.Failed f -> 1;
            case VmExit.GuestReset r -> 0;
            case VmExit.GuestShutdown s -> 0;
            case VmExit.GuestHalted h -> 0;
            case VmExit.SystemEvent e -> 0;
            case VmExit.Stopped s -> 0;
        };
    }
}
