package io.boxlite.vmm.vstate;

/** Why a VM stopped running: the first of these to happen wins. */
public sealed interface VmExit {
    /** The guest reset the machine (i8042 pulse, as Linux does with {@code reboot=k}): it is done. */
    record GuestReset() implements VmExit {
    }

    /** KVM_EXIT_SHUTDOWN on {@code vcpu}: a triple fault; for a Linux guest also "exited". */
    record GuestShutdown(int vcpu) implements VmExit {
    }

    /** The guest wrote {@code status} to the debug-exit ("done") port. */
    record GuestStatus(int status) implements VmExit {
    }

    /** {@code hlt} exited to user space on {@code vcpu} (only without the in-kernel irqchip). */
    record GuestHalted(int vcpu) implements VmExit {
    }

    /** KVM reported a system event ({@code KVM_SYSTEM_EVENT_*}) on {@code vcpu}. */
    record SystemEvent(int vcpu, int type) implements VmExit {
    }

    /** The host stopped the VM. */
    record Stopped() implements VmExit {
    }

    /** A vCPU could not continue: KVM internal error, failed entry, an unknown exit, an ioctl error. */
    record Failed(int vcpu, String reason) implements VmExit {
    }

    /** Whether the guest itself ended the run (reset, triple fault, status or halt). */
    default boolean guestInitiated() {
        return switch (this) {
            case GuestReset r -> true;
            case GuestShutdown s -> true;
            case GuestStatus s -> true;
            case GuestHalted h -> true;
            case SystemEvent e -> true;
            case Stopped s -> false;
            case Failed f -> false;
        };
    }
}
