package io.boxlite.cli;

import io.boxlite.vmm.vstate.Vm;
import io.boxlite.vmm.vstate.VmExit;
import io.boxlite.vmm.vstate.VcpuStats;
import io.boxlite.vmm.vstate.VmTimings;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** What {@code debug guest} and {@code debug boot} print after a run: timings, exits and why it ended. */
final class DebugVm {
    private DebugVm() {
    }

    static void report(PrintWriter out, Vm vm, VmExit exit) {
        VmTimings t = vm.timings();
        out.println();
        out.println("--- boxlite VM report ---");
        out.printf(Locale.ROOT, "VM setup (create → vCPUs ready): %8.3f ms%n", t.millisSinceCreate(t.setupDoneNanos()));
        out.printf(Locale.ROOT, "start called:                    %8.3f ms%n", t.millisSinceCreate(t.startNanos()));
        out.printf(Locale.ROOT, "first KVM_RUN (boot vCPU):       %8.3f ms%n", t.millisSinceCreate(t.firstRunNanos()));
        out.printf(Locale.ROOT, "first guest exit (boot vCPU):    %8.3f ms%n", t.millisSinceCreate(t.firstExitNanos()));
        vm.milestones().forEach(m -> out.printf(Locale.ROOT, "guest milestone %-6d            %8.3f ms%n",
                m.value(), m.nanosSinceCreate() / 1e6));
        out.printf(Locale.ROOT, "VM exit:                         %8.3f ms%n", t.millisSinceCreate(t.exitNanos()));
        for (VcpuStats s : vm.vcpuStats()) {
            out.printf(Locale.ROOT, "vCPU %d exits: %d PIO, %d MMIO, %d other, %d unclaimed, %d kicks%n", s.vcpu(),
                    s.pioExits(), s.mmioExits(), s.otherExits(), s.unclaimed(), s.interruptions());
        }
        for (var slot : vm.virtioSlots()) {
            var st = slot.stats();
            out.printf(Locale.ROOT, "virtio-mmio 0x%x gsi %d (device type %d): %d ioeventfd kicks, %d kicks by exit, %d interrupts%n",
                    slot.window().base(), slot.window().gsi(), slot.transport().device().deviceType(), st.ioeventfdKicks(),
                    st.exitKicks(), st.interrupts());
        }
        out.println("exit: " + describe(exit));
        boolean emulatorStopped = exit instanceof VmExit.Failed f && f.reason().contains("INTERNAL_ERROR");
        boolean silentTimeout = exit instanceof VmExit.Stopped && vm.config().console().bytesWritten() == 0;
        if ((emulatorStopped || silentTimeout) && kvmPvm()) {
            out.println("note: this host's /dev/kvm is KVM-PVM (/sys/module/kvm_pvm): it emulates a non-PVM guest's");
            out.println("      kernel code instruction by instruction (~1M instructions/s) and stops at the first one");
            out.println("      its emulator lacks (KVM_EXIT_INTERNAL_ERROR). A stock Linux kernel cannot boot here;");
            out.println("      boot it inside the nested lab or on hardware KVM.");
        }
        out.flush();
    }

    static String describe(VmExit exit) {
        return switch (exit) {
            case VmExit.GuestReset r -> "the guest reset the machine (i8042; Linux reboot=k): VM exited";
            case VmExit.GuestShutdown s -> "triple fault on vCPU " + s.vcpu() + " (KVM_EXIT_SHUTDOWN): VM exited";
            case VmExit.GuestStatus s -> "the guest wrote status " + s.status() + " to the done port";
            case VmExit.GuestHalted h -> "vCPU " + h.vcpu() + " halted";
            case VmExit.SystemEvent e -> "system event " + e.type() + " on vCPU " + e.vcpu();
            case VmExit.Stopped s -> "stopped by the host";
            case VmExit.Failed f -> "vCPU " + f.vcpu() + " FAILED: " + f.reason();
        };
    }

    static boolean kvmPvm() {
        return Files.isDirectory(Path.of("/sys/module/kvm_pvm"));
    }
}
