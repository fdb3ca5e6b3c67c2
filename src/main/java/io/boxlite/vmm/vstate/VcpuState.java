package io.boxlite.vmm.vstate;

/** Where a vCPU thread is in its life: Paused → Running ⇄ Paused → Finished. */
public enum VcpuState {
    /** The thread waits for a command; the guest does not run. */
    PAUSED,
    /** The thread is in (or about to enter) {@code KVM_RUN}. */
    RUNNING,
    /** The thread has ended; the vCPU can be closed. */
    FINISHED
}
