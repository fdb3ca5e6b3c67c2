package io.boxlite.vmm.vstate;

/**
 * When a VM went through its phases ({@link System#nanoTime()} values; 0 = not reached).
 *
 * @param createNanos     {@link Vm#create} was called
 * @param setupDoneNanos  memory, kernel, boot structures and vCPUs ready (vCPUs paused)
 * @param startNanos      {@link Vm#start} was called
 * @param firstRunNanos   the boot vCPU first entered KVM_RUN
 * @param firstExitNanos  the boot vCPU's first exit returned (just after the guest's first instructions)
 * @param exitNanos       the VM exit was decided
 */
public record VmTimings(long createNanos, long setupDoneNanos, long startNanos, long firstRunNanos,
                        long firstExitNanos, long exitNanos) {
    /** Milliseconds from creation to {@code nanos}, or NaN if not reached. */
    public double millisSinceCreate(long nanos) {
        return nanos == 0 ? Double.NaN : (nanos - createNanos) / 1e6;
    }
}
