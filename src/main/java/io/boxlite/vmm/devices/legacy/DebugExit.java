package io.boxlite.vmm.devices.legacy;

import java.util.function.IntConsumer;

import io.boxlite.vmm.vstate.BusDevice;

/**
 * The "done" port (QEMU's isa-debug-exit convention, port 0xF4): a 1-, 2- or 4-byte write of
 * {@code status} ends the VM with that status. Test guests report their verdict here.
 */
public final class DebugExit implements BusDevice {
    public static final int SIZE = 4;

    private final IntConsumer exit;

    public DebugExit(IntConsumer exit) {
        this.exit = exit;
    }

    @Override
    public void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0xFF);
    }

    @Override
    public void write(long offset, byte[] data) {
        if (offset != 0 || data.length > 4) {
            return; // only whole writes at the port itself count
        }
        int status = 0;
        for (int i = data.length - 1; i >= 0; i--) {
            status = (status << 8) | Byte.toUnsignedInt(data[i]);
        }
        exit.accept(status);
    }
}
