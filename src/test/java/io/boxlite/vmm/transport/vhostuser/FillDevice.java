package io.boxlite.vmm.transport.vhostuser;

import io.boxlite.vmm.devices.virtio.DescriptorChain;
import io.boxlite.vmm.devices.virtio.GuestBuffers;
import io.boxlite.vmm.devices.virtio.Interrupt;
import io.boxlite.vmm.devices.virtio.VirtioDevice;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.devices.virtio.VirtqueueException;
import io.boxlite.vmm.memory.GuestMemory;

import java.util.Arrays;
import java.util.List;

/** A one-queue test device, like virtio-rng: fills every writable buffer with one byte value. */
final class FillDevice implements VirtioDevice {
    static final byte FILL = (byte) 0xAB;
    private volatile long acked;
    private volatile Virtqueue queue;
    private volatile Interrupt interrupt;
    volatile int resets;

    @Override public int deviceType() { return 4; }
    @Override public long availFeatures() { return VirtioFeatures.COMMON; }
    @Override public long ackedFeatures() { return acked; }
    @Override public void ackFeatures(long features) { acked = features & availFeatures(); }
    @Override public List<Integer> queueMaxSizes() { return List.of(64); } // the front-end may pick more
    @Override public int configSize() { return 8; }

    @Override
    public void readConfig(long offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (0x10 + offset + i);
        }
    }

    @Override public void writeConfig(long offset, byte[] data) { }

    @Override
    public void activate(GuestMemory memory, List<Virtqueue> queues, Interrupt interrupt) {
        this.queue = queues.getFirst();
        this.interrupt = interrupt;
    }

    @Override public boolean active() { return queue != null; }

    @Override
    public void queueNotify(int index) {
        Virtqueue q = queue;
        if (q == null) {
            return;
        }
        boolean[] any = {false};
        try {
            q.drain((DescriptorChain chain) -> {
                any[0] = true;
                try {
                    GuestBuffers w = chain.split().writable();
                    byte[] fill = new byte[Math.toIntExact(w.length())];
                    Arrays.fill(fill, FILL);
                    w.write(0, fill);
                    q.addUsed(chain.headIndex(), fill.length);
                } catch (VirtqueueException e) {
                    q.addUsed(chain.headIndex(), 0);
                }
            });
        } catch (VirtqueueException e) {
            interrupt.needsReset(index, e.getMessage());
            return;
        }
        if (any[0]) {
            interrupt.signalUsed(index);
        }
    }

    @Override
    public void reset() {
        queue = null;
        acked = 0;
        resets++;
    }
}
