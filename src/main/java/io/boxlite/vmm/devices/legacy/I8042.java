package io.boxlite.vmm.devices.legacy;

import io.boxlite.vmm.vstate.BusDevice;

/**
 * The i8042 keyboard controller at ports 0x60–0x64, present so the guest can reset the machine:
 * command 0xFE (pulse the reset line) on port 0x64 — what Linux does with {@code reboot=k} —
 * calls the reset action, which ends the VM. Its status always reads "buffers empty".
 */
public final class I8042 implements BusDevice {
    public static final int SIZE = 5;
    static final int DATA = 0;
    static final int COMMAND = 4;
    static final int CMD_RESET_CPU = 0xFE;

    private final Runnable reset;

    public I8042(Runnable reset) {
        this.reset = reset;
    }

    @Override
    public void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0); // status: output and input buffers empty; data: nothing
    }

    @Override
    public void write(long offset, byte[] data) {
        if (offset == COMMAND && Byte.toUnsignedInt(data[0]) == CMD_RESET_CPU) {
            reset.run();
        }
    }
}
