package io.boxlite.lab;

import io.boxlite.vmm.devices.legacy.ConsoleLog;
import io.boxlite.vmm.vstate.VcpuStats;
import io.boxlite.vmm.vstate.Vm;
import io.boxlite.vmm.vstate.VmConfig;
import io.boxlite.vmm.vstate.VmExit;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One boot of a Linux kernel on BoxLite's VMM to the lab's userspace marker and the guest's own
 * exit: the marker initramfs prints {@code BOXLITE-LAB-MARKER cpus=N} from its init, then
 * {@code reboot -f} (with {@code reboot=k}: the i8042 reset, our "VM exited").
 */
final class InnerBoot {
    static final String MARKER = "BOXLITE-LAB-MARKER";
    /** The lab's boot phases: BoxLite's own exit path, {@code reboot=k} (the i8042 reset). */
    static final String CMDLINE = VmConfig.DEFAULT_LINUX_CMDLINE + " quiet";
    /**
     * The benchmark's command line, the same for both VMMs: {@code reboot=t} (a triple fault ends
     * either VM at once). QEMU's microvm has no i8042, so with {@code reboot=k} its guest polls
     * the absent controller ~650,000 times (an exit each) before falling back: minutes in the lab.
     */
    static final String BENCH_CMDLINE = "console=ttyS0 reboot=t panic=-1 pci=off quiet";
    private static final Pattern CPUS = Pattern.compile("cpus=(\\d+)");

    /** What one boot did; times are milliseconds from the {@code Vm.create} call. */
    record Result(int cpus, Optional<String> markerLine, double markerMillis, double setupMillis, VmExit exit,
                  double exitMillis, List<VcpuStats> stats, String consoleTail) {
        /** The guest reached user space on all its CPUs and then ended the VM itself. */
        boolean passed() {
            return reportedCpus() == cpus && exit.guestInitiated();
        }

        /** Nothing happened in time: the guest neither reached the marker nor exited (a nested stall, or a hang). */
        boolean stalled() {
            return exit instanceof VmExit.Stopped;
        }

        int reportedCpus() {
            return markerLine.map(l -> {
                Matcher m = CPUS.matcher(l);
                return m.find() ? Integer.parseInt(m.group(1)) : -1;
            }).orElse(-1);
        }

        String describe() {
            return String.format(java.util.Locale.ROOT,
                    "cpus=%d reported_cpus=%d setup_ms=%.1f marker_ms=%.1f exit_ms=%.1f exit=%s exits=%s", cpus,
                    reportedCpus(), setupMillis, markerMillis, exitMillis, exit.getClass().getSimpleName(),
                    stats.stream().map(s -> s.pioExits() + "pio/" + s.mmioExits() + "mmio").toList());
        }
    }

    private InnerBoot() {
    }

    /**
     * Boots {@code kernel} with {@code initrd} and {@code cmdline} on {@code cpus} vCPUs; the console is echoed to
     * {@code echo} with {@code prefix}. Waits at most {@code timeout} for the guest's exit.
     */
    static Result run(byte[] kernel, byte[] initrd, String cmdline, int cpus, long memoryMib, Duration timeout,
                      PrintStream echo, String prefix) throws InterruptedException {
        ConsoleWatch watch = new ConsoleWatch(echo, prefix, MARKER);
        ConsoleLog console = ConsoleLog.toStream(watch, 4L << 20, 16 << 10);
        VmConfig config = VmConfig.builder().kernel(kernel, "inner-kernel").initrd(initrd).cmdline(cmdline).vcpus(cpus)
                .memoryMib(memoryMib).console(console).build();
        long t0 = System.nanoTime();
        try (Vm vm = Vm.create(config)) {
            long ready = System.nanoTime();
            vm.start();
            VmExit exit = vm.awaitExit(timeout).orElseGet(vm::stop);
            vm.stop();
            long exitNanos = vm.timings().exitNanos();
            return new Result(cpus, watch.markerLine(), millis(t0, watch.markerNanos()), millis(t0, ready), exit,
                    millis(t0, exitNanos), vm.vcpuStats(), watch.lastLines());
        }
    }

    static double millis(long from, long to) {
        return to == 0 ? Double.NaN : (to - from) / 1e6;
    }
}
