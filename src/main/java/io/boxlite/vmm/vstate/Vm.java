package io.boxlite.vmm.vstate;

import io.boxlite.InvalidStateException;
import io.boxlite.kvm.Kvm;
import io.boxlite.kvm.VcpuFd;
import io.boxlite.kvm.VmFd;
import io.boxlite.sys.EventFd;
import io.boxlite.vmm.arch.x86_64.Arch;
import io.boxlite.vmm.arch.x86_64.KernelCmdline;
import io.boxlite.vmm.arch.x86_64.Layout;
import io.boxlite.vmm.arch.x86_64.ZeroPage;
import io.boxlite.vmm.arch.x86_64.acpi.MmioDeviceInfo;
import io.boxlite.vmm.devices.legacy.BootTimer;
import io.boxlite.vmm.devices.legacy.DebugExit;
import io.boxlite.vmm.devices.legacy.I8042;
import io.boxlite.vmm.devices.legacy.Serial8250;
import io.boxlite.vmm.loader.KernelLoader;
import io.boxlite.vmm.loader.LoadedKernel;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A running x86_64 micro-VM: owns KVM, guest memory, the VM and vCPU descriptors, the vCPU
 * threads, the legacy devices (COM1, i8042, the done port, the boot timer) and the buses.
 * {@link #create} does the whole direct boot — the kernel is loaded, the boot structures are
 * written and the vCPUs wait, paused — and {@link #start} lets them run. {@link #close()}
 * tears everything down and leaks nothing; if it fails part-way, everything made so far is
 * released too.
 *
 * <p>The guest ends the run by resetting (Linux {@code reboot} with {@code reboot=k}: the i8042
 * pulse), triple-faulting, or writing to the done port; see {@link VmExit}.
 *
 * {@snippet :
 * try (Vm vm = Vm.create(VmConfig.builder().kernel(Path.of("vmlinuz")).memoryMib(256).build())) {
 *     vm.start();
 *     VmExit exit = vm.awaitExit(Duration.ofSeconds(30)).orElseGet(vm::stop);
 * }
 * }
 */
public final class Vm implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Vm.class.getName());
    private static final int KVM_MP_STATE_RUNNABLE = 0;
    /** How long close() waits for each vCPU thread after kicking it (Firecracker: 1 s). */
    static final Duration VCPU_JOIN_TIMEOUT = Duration.ofSeconds(1);

    private final VmConfig config;
    private final long createNanos;
    private final List<AutoCloseable> owned = new ArrayList<>(); // closed in reverse order
    private final Bus pio = new Bus("PIO");
    private final Bus mmio = new Bus("MMIO");
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<VcpuFd> vcpuFds = new ArrayList<>();
    private final List<VirtioMmioSlot> virtioSlots = new ArrayList<>();
    private final CompletableFuture<VmExit> exit = new CompletableFuture<>();
    private GuestMemory memory;
    private LoadedKernel kernel;
    private BootTimer bootTimer;
    private long setupDoneNanos;
    private long startNanos;
    private volatile long exitNanos;
    private boolean closed;

    private Vm(VmConfig config, long createNanos) {
        this.config = config;
        this.createNanos = createNanos;
    }

    /** Creates and boots the VM up to the first instruction; vCPUs are paused until {@link #start}. */
    public static Vm create(VmConfig config) {
        Vm vm = new Vm(config, System.nanoTime());
        try {
            vm.build();
            return vm;
        } catch (RuntimeException e) {
            try {
                vm.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void build() {
        Kvm kvm = own(Kvm.open());
        memory = own(GuestMemory.anonymous(Arch.ramRanges(config.memoryMib() << 20)));
        VmFd vm = own(kvm.createVm());
        vm.registerMemory(memory);
        Arch.configureVm(vm);

        kernel = KernelLoader.load(memory, config.kernel(), config.kernelName(), Layout.HIMEM_START);
        Optional<ZeroPage.Initrd> initrd = config.initrd().map(bytes -> {
            long at = Arch.placeInitrd(memory, kernel, bytes.length);
            memory.write(GuestAddress.of(at), bytes);
            return new ZeroPage.Initrd(at, bytes.length);
        });
        KernelCmdline cmdline = KernelCmdline.withCapacity(Arch.cmdlineCapacity(kernel)).append(config.cmdline());
        List<MmioDeviceInfo> announced = new ArrayList<>(config.virtioMmio());
        announced.addAll(registerVirtioDevices(vm));
        Arch.writeBootStructures(memory, kernel, cmdline, initrd, config.vcpus(), announced);

        registerLegacyDevices(vm);

        var supported = kvm.supportedCpuid();
        int[] msrList = kvm.msrIndexList();
        for (int i = 0; i < config.vcpus(); i++) {
            VcpuFd fd = vm.createVcpu(i);
            vcpuFds.add(fd);
            Arch.configureVcpu(fd, supported, msrList, i, config.vcpus());
            if (i == 0) {
                Arch.enterKernel(fd, kernel.entry64(), Layout.BOOT_STACK_POINTER);
            } else if (config.apStart() == VmConfig.ApStart.RUNNABLE_AT_ENTRY) {
                Arch.enterKernel(fd, kernel.entry64(), 0);
                fd.setMpState(KVM_MP_STATE_RUNNABLE);
            }
        }
        for (VcpuFd fd : vcpuFds) {
            Vcpu cpu = new Vcpu(fd, pio, mmio, this::requestExit);
            vcpus.add(cpu);
            cpu.start();
        }
        setupDoneNanos = System.nanoTime();
    }

    /** Places each configured virtio device in a slot and starts the kick loop; the windows to announce. */
    private List<MmioDeviceInfo> registerVirtioDevices(VmFd vm) {
        List<MmioDeviceInfo> windows = VirtioMmioSlot.place(config.virtioMmio(), config.virtioDevices().size());
        for (int i = 0; i < windows.size(); i++) {
            MmioDeviceInfo w = windows.get(i);
            VirtioMmioSlot slot = own(VirtioMmioSlot.create(vm, memory, config.virtioDevices().get(i), w));
            virtioSlots.add(slot);
            mmio.register(w.base(), w.size(), slot);
        }
        if (!virtioSlots.isEmpty()) {
            own(IoEventLoop.start(virtioSlots)); // closed before the slots: owned resources close in reverse
        }
        return windows;
    }

    private void registerLegacyDevices(VmFd vm) {
        EventFd serialIrq = own(EventFd.create());
        vm.registerIrqfd(serialIrq, Layout.SERIAL_IRQ);
        pio.register(Layout.SERIAL_PORT, 8, new Serial8250(config.console(), serialIrq::signal));
        pio.register(Layout.I8042_PORT, I8042.SIZE, new I8042(() -> requestExit(new VmExit.GuestReset())));
        pio.register(Layout.DEBUG_EXIT_PORT, DebugExit.SIZE,
                new DebugExit(status -> requestExit(new VmExit.GuestStatus(status))));
        bootTimer = new BootTimer(createNanos);
        mmio.register(Layout.BOOT_TIMER_START, BootTimer.SIZE, bootTimer);
    }

    private <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    /** Lets every vCPU run. */
    public void start() {
        requireOpen();
        startNanos = System.nanoTime();
        for (Vcpu cpu : vcpus) {
            cpu.resume();
        }
    }

    /** Ends the run with {@code why} (the first call wins) and tells every vCPU to finish. */
    public void requestExit(VmExit why) {
        if (exit.complete(why)) {
            exitNanos = System.nanoTime();
            LOG.log(System.Logger.Level.DEBUG, "VM exit: {0}", why);
        }
        for (Vcpu cpu : vcpus) {
            cpu.finish();
        }
    }

    /** Waits for the guest (or a failure) to end the run; empty on timeout, the VM still running. */
    public Optional<VmExit> awaitExit(Duration timeout) throws InterruptedException {
        try {
            return Optional.of(exit.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw new AssertionError("the exit future is never completed exceptionally", e);
        }
    }

    /** Stops the VM from the host (even while the guest spins) and waits for the vCPUs; returns why it ended. */
    public VmExit stop() {
        requestExit(new VmExit.Stopped());
        joinVcpus();
        return exit.join();
    }

    /** Completes with why the run ended (a copy: completing it does not end the VM). */
    public CompletableFuture<VmExit> onExit() {
        return exit.copy();
    }

    /** The exit, if decided. */
    public Optional<VmExit> exit() {
        return Optional.ofNullable(exit.getNow(null));
    }

    private void joinVcpus() {
        for (Vcpu cpu : vcpus) {
            try {
                if (!cpu.awaitFinished(VCPU_JOIN_TIMEOUT)) {
                    cpu.finish(); // a second kick, in case the first raced with thread start
                    if (!cpu.awaitFinished(VCPU_JOIN_TIMEOUT)) {
                        throw new InvalidStateException("vCPU " + cpu.id() + " did not stop within "
                                + VCPU_JOIN_TIMEOUT.multipliedBy(2).toMillis() + " ms of being kicked");
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InvalidStateException("interrupted while stopping vCPU " + cpu.id());
            }
        }
    }

    public Bus pioBus() {
        return pio;
    }

    public Bus mmioBus() {
        return mmio;
    }

    /** Guest RAM; valid until {@link #close()}. */
    public GuestMemory memory() {
        return memory;
    }

    public LoadedKernel kernel() {
        return kernel;
    }

    public VmConfig config() {
        return config;
    }

    public List<BootTimer.Milestone> milestones() {
        return bootTimer == null ? List.of() : bootTimer.milestones();
    }

    public List<VcpuStats> vcpuStats() {
        return vcpus.stream().map(Vcpu::stats).toList();
    }

    /** The virtio devices' slots, in configuration order. */
    public List<VirtioMmioSlot> virtioSlots() {
        return List.copyOf(virtioSlots);
    }

    public List<Vcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    public VmTimings timings() {
        VcpuStats boot = vcpus.isEmpty() ? null : vcpus.getFirst().stats();
        return new VmTimings(createNanos, setupDoneNanos, startNanos, boot == null ? 0 : boot.firstRunNanos(),
                boot == null ? 0 : boot.firstExitNanos(), exitNanos);
    }

    private void requireOpen() {
        if (closed) {
            throw new InvalidStateException("the VM is closed");
        }
    }

    /**
     * Stops the vCPUs and releases everything: threads, vCPU and VM descriptors, eventfds, guest
     * memory, the KVM handle and the console. Idempotent. A vCPU thread that cannot be stopped
     * keeps its descriptor and mapping (unmapping kvm_run under a running KVM_RUN is unsafe).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        boolean stuck = false;
        if (!vcpus.isEmpty()) {
            exit.complete(new VmExit.Stopped());
            for (Vcpu cpu : vcpus) {
                cpu.finish();
            }
            try {
                joinVcpus();
            } catch (RuntimeException e) {
                failure = e;
                stuck = true;
            }
        }
        if (!stuck) {
            for (VcpuFd fd : vcpuFds) {
                failure = closeQuietly(fd, failure);
            }
        }
        for (int i = owned.size() - 1; i >= 0; i--) {
            if (stuck && owned.get(i) instanceof GuestMemory) {
                continue; // a vCPU may still run in it
            }
            failure = closeQuietly(owned.get(i), failure);
        }
        failure = closeQuietly(config.console(), failure);
        if (failure != null) {
            throw failure;
        }
    }

    private static RuntimeException closeQuietly(AutoCloseable c, RuntimeException failure) {
        try {
            c.close();
            return failure;
        } catch (Exception e) {
            RuntimeException r = e instanceof RuntimeException re ? re : new IllegalStateException(e);
            if (failure == null) {
                return r;
            }
            failure.addSuppressed(r);
            return failure;
        }
    }
}
