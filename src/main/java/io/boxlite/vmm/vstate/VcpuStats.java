package io.boxlite.vmm.vstate;

/**
 * Counters and timestamps of one vCPU ({@link System#nanoTime()} values, 0 when not yet seen).
 *
 * @param firstRunNanos when the thread first entered {@code KVM_RUN}
 * @param firstExitNanos when the first exit to user space came back (after the guest's first
 *                       instructions; for the test guests, their first instruction is an exit)
 */
public record VcpuStats(int vcpu, long firstRunNanos, long firstExitNanos, long pioExits, long mmioExits,
                        long otherExits, long interruptions, long unclaimed) {
    /** All exits to user space, interruptions by kicks excluded. */
    public long exits() {
        return pioExits + mmioExits + otherExits;
    }
}
