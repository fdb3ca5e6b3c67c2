package io.boxlite.vmm.testguests;

import io.boxlite.vmm.vstate.BusDevice;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The device the {@link TestGuest#MMIO} guest talks to: remembers 32-bit writes at +0 and
 * answers a 32-bit read at +4 with the complement of the last one, which RAM never would.
 */
public final class ScratchDevice implements BusDevice {
    /** Where the MMIO guest expects it: the first virtio-mmio slot. */
    public static final long ADDRESS = 0xC000_1000L;
    public static final long SIZE = 0x1000;

    private final List<Long> writes = new CopyOnWriteArrayList<>();
    private volatile int last;

    @Override
    public void read(long offset, byte[] data) {
        if (offset == 4 && data.length == 4) {
            ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putInt(~last);
        }
    }

    @Override
    public void write(long offset, byte[] data) {
        if (offset == 0 && data.length == 4) {
            last = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getInt();
            writes.add(Integer.toUnsignedLong(last));
        }
    }

    /** Every value written at +0, in order. */
    public List<Long> writes() {
        return List.copyOf(writes);
    }
}
