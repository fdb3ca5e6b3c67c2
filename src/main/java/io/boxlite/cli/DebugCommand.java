package io.boxlite.cli;

import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.kernel.GuestKernel;
import io.boxlite.vmm.arch.x86_64.acpi.MmioDeviceInfo;
import io.boxlite.vmm.devices.legacy.ConsoleLog;
import io.boxlite.vmm.testguests.ScratchDevice;
import io.boxlite.vmm.testguests.TestGuest;
import io.boxlite.vmm.vstate.Vm;
import io.boxlite.vmm.vstate.VmConfig;
import io.boxlite.vmm.vstate.VmExit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code boxlite debug}: looks at the host and the installed pieces without running a box. */
@Command(name = "debug",
        mixinStandardHelpOptions = true,
        description = "Inspect this host and BoxLite's installed pieces.",
        subcommands = {DebugCommand.Probe.class, DebugCommand.Kernel.class, DebugCommand.Guest.class,
                DebugCommand.Boot.class})
final class DebugCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** {@code boxlite debug probe}: which engine can run guests here, and why. */
    @Command(name = "probe",
            mixinStandardHelpOptions = true,
            description = "Probe KVM and QEMU on this host and show which engine boxes would use.")
    static final class Probe implements Callable<Integer> {
        @ParentCommand
        DebugCommand debug;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().getOut().print(debug.main.probes.get().probe(Options.defaults()).render());
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    /** {@code boxlite debug kernel}: the guest kernel boxes would boot. */
    @Command(name = "kernel",
            mixinStandardHelpOptions = true,
            description = "Show the guest kernel that boxes would boot.")
    static final class Kernel implements Callable<Integer> {
        @ParentCommand
        DebugCommand debug;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            GuestKernel kernel = GuestKernel.locate(Options.defaults(), debug.main.env);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("Version:  %s%n", kernel.version());
            out.printf("Package:  %s (Debian package version)%n", kernel.packageVersion());
            out.printf("Dir:      %s%n", kernel.dir());
            out.printf("Image:    %s%n", kernel.vmlinuz());
            out.printf("Modules:  %s%n", kernel.modulesDir());
            out.flush();
            return 0;
        }
    }

    /** {@code boxlite debug guest NAME}: runs a freestanding test guest on /dev/kvm. */
    @Command(name = "guest",
            mixinStandardHelpOptions = true,
            description = {"Run a freestanding test guest on /dev/kvm and show its output and host timings.",
                    "Guests: boot-check, mmio, smp, spin, reset, triple-fault, exits, virtio-blk (on a scratch disk)."})
    static final class Guest implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "NAME", description = "The test guest to run.")
        String name;

        @Option(names = "--cpus", description = "vCPUs (default: 2 for smp, else 1).")
        Integer cpus;

        @Option(names = "--memory", paramLabel = "MiB", defaultValue = "64", description = "Guest RAM in MiB (default 64).")
        long memoryMib;

        @Option(names = "--cmdline", description = "Extra command-line words (exits: mode=pio|mmio count=N).")
        String cmdline = "";

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
                description = "Stop the guest after this long (spin: 1 s unless given).")
        double timeoutSeconds;

        @Override
        public Integer call() throws InterruptedException, java.io.IOException {
            TestGuest guest = TestGuest.named(name);
            PrintWriter out = spec.commandLine().getOut();
            int n = cpus != null ? cpus : guest == TestGuest.SMP ? 2 : 1;
            VmConfig.Builder config = VmConfig.builder().kernel(guest.image(), guest.guestName()).vcpus(n)
                    .memoryMib(memoryMib).apStart(VmConfig.ApStart.RUNNABLE_AT_ENTRY)
                    .cmdline(("console=ttyS0 reboot=k testguest=" + guest.guestName() + " " + cmdline).strip())
                    .console(ConsoleLog.toStream(new PrintWriterStream(out), 16L << 20, 64 << 10));
            if (guest == TestGuest.BOOT_CHECK) {
                config.initrd(TestGuest.sampleInitrd(8192, 1)).virtioMmio(new MmioDeviceInfo(ScratchDevice.ADDRESS,
                        ScratchDevice.SIZE, 5));
            }
            Path scratchDisk = null;
            if (guest == TestGuest.VIRTIO_BLK) {
                scratchDisk = java.nio.file.Files.createTempFile("boxlite-virtio-blk", ".raw");
                java.nio.file.Files.write(scratchDisk, new byte[64 << 10]);
                config.virtioDevice(new io.boxlite.vmm.devices.virtio.block.BlockDevice(
                        io.boxlite.disk.RawDiskImage.open(scratchDisk, false), "debug-guest"));
            }
            boolean explicitTimeout = spec.commandLine().getParseResult().hasMatchedOption("--timeout");
            Duration timeout = guest == TestGuest.SPIN && !explicitTimeout ? Duration.ofSeconds(1)
                    : Duration.ofMillis((long) (timeoutSeconds * 1000));
            try (Vm vm = Vm.create(config.build())) {
                if (guest == TestGuest.MMIO || guest == TestGuest.EXITS) {
                    vm.mmioBus().register(ScratchDevice.ADDRESS, ScratchDevice.SIZE, new ScratchDevice());
                }
                vm.start();
                VmExit exit = vm.awaitExit(timeout).orElseGet(vm::stop);
                vm.stop();
                DebugVm.report(out, vm, exit);
                return switch (exit) {
                    case VmExit.GuestStatus s -> Math.min(s.status(), 255);
                    case VmExit.GuestReset r -> guest == TestGuest.RESET ? 0 : 1;
                    case VmExit.GuestShutdown sh -> guest == TestGuest.TRIPLE_FAULT ? 0 : 1;
                    case VmExit.Stopped st -> guest == TestGuest.SPIN ? 0 : Main.EXIT_RUNTIME_ERROR;
                    default -> Main.EXIT_RUNTIME_ERROR;
                };
            } finally {
                if (scratchDisk != null) {
                    java.nio.file.Files.deleteIfExists(scratchDisk);
                }
            }
        }
    }

    /** {@code boxlite debug boot KERNEL INITRD}: boots a Linux kernel on our VMM, console to stdout. */
    @Command(name = "boot",
            mixinStandardHelpOptions = true,
            description = {"Boot a Linux bzImage (or ELF vmlinux) and initrd on BoxLite's KVM VMM; the serial console "
                    + "goes to stdout, boot-phase timings follow.",
                    "The guest ends the run with 'reboot' (reboot=k: the i8042 reset)."})
    static final class Boot implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "KERNEL", description = "bzImage (vmlinuz) or ELF vmlinux.")
        Path kernel;

        @Parameters(index = "1", paramLabel = "INITRD", description = "initramfs image.")
        Path initrd;

        @Option(names = "--cmdline", description = "Kernel command line (default: ${DEFAULT-VALUE}).")
        String cmdline = VmConfig.DEFAULT_LINUX_CMDLINE;

        @Option(names = "--cpus", defaultValue = "1", description = "vCPUs (default 1).")
        int cpus;

        @Option(names = "--memory", paramLabel = "MiB", defaultValue = "512", description = "Guest RAM in MiB (default 512).")
        long memoryMib;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "300",
                description = "Stop the guest after this long (default 300).")
        double timeoutSeconds;

        @Override
        public Integer call() throws InterruptedException {
            if (timeoutSeconds <= 0) {
                throw new InvalidArgumentException("--timeout must be positive: " + timeoutSeconds);
            }
            PrintWriter out = spec.commandLine().getOut();
            VmConfig config = VmConfig.builder().kernel(kernel).initrd(initrd).cmdline(cmdline).vcpus(cpus)
                    .memoryMib(memoryMib).console(ConsoleLog.toStream(new PrintWriterStream(out), Long.MAX_VALUE, 64 << 10))
                    .build();
            try (Vm vm = Vm.create(config)) {
                vm.start();
                VmExit exit = vm.awaitExit(Duration.ofMillis((long) (timeoutSeconds * 1000))).orElseGet(vm::stop);
                vm.stop();
                DebugVm.report(out, vm, exit);
                if (exit instanceof VmExit.Stopped) {
                    out.println("the guest did not exit within " + timeoutSeconds + " s");
                    out.flush();
                }
                return exit.guestInitiated() ? 0 : Main.EXIT_RUNTIME_ERROR;
            }
        }
    }
}
