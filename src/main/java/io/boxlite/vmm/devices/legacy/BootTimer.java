package io.boxlite.vmm.devices.legacy;

import io.boxlite.vmm.vstate.BusDevice;

import java.util.ArrayList;
import java.util.List;

/**
 * Guest boot milestones (an MMIO page, Firecracker's boot-timer device at 0xC000_0000): each
 * write records its value and the time since the VM was created. Value {@link #BOOT_COMPLETE}
 * (123) is Firecracker's "init reached" marker; the test guests write small numbers as they go.
 */
public final class BootTimer implements BusDevice {
    private static final System.Logger LOG = System.getLogger(BootTimer.class.getName());
    public static final long SIZE = 0x1000;
    public static final int BOOT_COMPLETE = 123;
    /** The list is bounded: a guest writing in a loop cannot exhaust memory. */
    static final int MAX_MILESTONES = 256;

    /** One write: the value, and nanoseconds since the VM was created. */
    public record Milestone(long value, long nanosSinceCreate) {
    }

    private final long createdNanos;
    private final List<Milestone> milestones = new ArrayList<>();

    public BootTimer(long createdNanos) {
        this.createdNanos = createdNanos;
    }

    @Override
    public void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
    }

    @Override
    public void write(long offset, byte[] data) {
        long value = 0;
        for (int i = data.length - 1; i >= 0; i--) {
            value = (value << 8) | Byte.toUnsignedInt(data[i]);
        }
        long elapsed = System.nanoTime() - createdNanos;
        synchronized (this) {
            if (milestones.size() < MAX_MILESTONES) {
                milestones.add(new Milestone(value, elapsed));
            }
        }
        if (value == BOOT_COMPLETE) {
            LOG.log(System.Logger.Level.INFO, "guest boot complete {0} ms after VM creation", elapsed / 1_000_000);
        } else {
            LOG.log(System.Logger.Level.DEBUG, "guest milestone {0} at {1} µs", value, elapsed / 1000);
        }
    }

    public synchronized List<Milestone> milestones() {
        return List.copyOf(milestones);
    }
}
