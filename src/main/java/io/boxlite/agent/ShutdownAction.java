package io.boxlite.agent;

/** What the guest does after an orderly shutdown has stopped its processes and synced its disks. */
public enum ShutdownAction {
    /** {@code reboot(RB_POWER_OFF)}: the VM exits. */
    POWER_OFF(1),
    /** {@code reboot(RB_AUTOBOOT)}: the guest restarts (a VMM may treat the reset as its exit). */
    REBOOT(2);

    private final int code;

    ShutdownAction(int code) {
        this.code = code;
    }

    int code() {
        return code;
    }
}
