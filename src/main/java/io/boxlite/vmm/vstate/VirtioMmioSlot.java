package io.boxlite.vmm.vstate;

import io.boxlite.kvm.VmFd;
import io.boxlite.sys.EventFd;
import io.boxlite.vmm.arch.x86_64.Layout;
import io.boxlite.vmm.arch.x86_64.acpi.MmioDeviceInfo;
import io.boxlite.vmm.devices.virtio.VirtioDevice;
import io.boxlite.vmm.memory.GuestMemory;
import io.boxlite.vmm.transport.mmio.MmioTransport;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One virtio device served to a KVM guest: its {@link MmioTransport} on the MMIO bus at a 4 KiB
 * window, the guest's QueueNotify writes caught inside KVM (one ioeventfd per queue, the queue
 * index as datamatch, so a kick never leaves the kernel) and handed to the device by the VM's
 * {@link IoEventLoop}, and the device's interrupt raised through an irqfd on the slot's GSI.
 * Register accesses other than kicks arrive as MMIO exits through {@link #read}/{@link #write}.
 *
 * <p>{@link #close()} resets the device (its workers stop touching guest memory) and removes the
 * ioeventfds and the irqfd; the VM closes slots before it unmaps guest RAM.
 */
public final class VirtioMmioSlot implements BusDevice, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VirtioMmioSlot.class.getName());

    /** Slots available: one per legacy IOAPIC line from {@link Layout#FIRST_DEVICE_GSI}. */
    public static final int MAX_SLOTS = Layout.LAST_DEVICE_GSI - Layout.FIRST_DEVICE_GSI + 1;

    /** What the slot has seen; for tests and reports. */
    public record Stats(long ioeventfdKicks, long exitKicks, long interrupts) {
    }

    private final VmFd vm;
    private final MmioDeviceInfo window;
    private final MmioTransport transport;
    private final EventFd irq;
    private final List<EventFd> kicks = new ArrayList<>();
    private final AtomicLong ioeventfdKicks = new AtomicLong();
    private final AtomicLong exitKicks = new AtomicLong();
    private final AtomicLong interrupts = new AtomicLong();
    private boolean closed;

    private VirtioMmioSlot(VmFd vm, MmioDeviceInfo window, VirtioDevice device, GuestMemory memory, EventFd irq) {
        this.vm = vm;
        this.window = window;
        this.irq = irq;
        this.transport = new MmioTransport(device, memory, () -> {
            interrupts.incrementAndGet();
            irq.signal();
        });
    }

    /**
     * The windows for {@code count} devices: slot n at {@link Layout#MMIO_SLOTS_START} + n × 4 KiB
     * with GSI {@link Layout#FIRST_DEVICE_GSI} + n, skipping slots whose window or GSI an
     * {@code announced} entry already takes.
     */
    static List<MmioDeviceInfo> place(List<MmioDeviceInfo> announced, int count) {
        Set<Long> bases = new HashSet<>();
        Set<Integer> gsis = new HashSet<>();
        for (MmioDeviceInfo a : announced) {
            bases.add(a.base());
            gsis.add(a.gsi());
        }
        List<MmioDeviceInfo> out = new ArrayList<>();
        for (int n = 0; n < MAX_SLOTS && out.size() < count; n++) {
            long base = Layout.MMIO_SLOTS_START + n * Layout.MMIO_SLOT_SIZE;
            int gsi = Layout.FIRST_DEVICE_GSI + n;
            if (!bases.contains(base) && !gsis.contains(gsi)) {
                out.add(new MmioDeviceInfo(base, MmioTransport.WINDOW_SIZE, gsi));
            }
        }
        if (out.size() < count) {
            throw new io.boxlite.InvalidArgumentException("no free virtio-mmio slot for " + count + " devices beside "
                    + announced.size() + " announced windows (" + MAX_SLOTS + " slots in all)");
        }
        return List.copyOf(out);
    }

    /**
     * Wires {@code device} at {@code window}: an irqfd on its GSI and an ioeventfd on QueueNotify
     * for each queue. Undoes what it did if a step fails.
     */
    static VirtioMmioSlot create(VmFd vm, GuestMemory memory, VirtioDevice device, MmioDeviceInfo window) {
        EventFd irq = EventFd.create(true);
        VirtioMmioSlot slot = new VirtioMmioSlot(vm, window, device, memory, irq);
        try {
            vm.registerIrqfd(irq, window.gsi());
        } catch (RuntimeException e) {
            irq.close();
            throw e;
        }
        try {
            for (int q = 0; q < device.queueMaxSizes().size(); q++) {
                EventFd kick = EventFd.create(true);
                try {
                    vm.registerIoeventfd(kick, slot.notifyAddress(), 4, OptionalLong.of(q));
                } catch (RuntimeException e) {
                    kick.close();
                    throw e;
                }
                slot.kicks.add(kick);
            }
            return slot;
        } catch (RuntimeException e) {
            try {
                slot.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private long notifyAddress() {
        return window.base() + MmioTransport.QUEUE_NOTIFY;
    }

    /** Where the slot sits and which GSI it interrupts on. */
    public MmioDeviceInfo window() {
        return window;
    }

    public MmioTransport transport() {
        return transport;
    }

    public Stats stats() {
        return new Stats(ioeventfdKicks.get(), exitKicks.get(), interrupts.get());
    }

    /** The ioeventfd of each queue, in queue order; the event loop waits on them. */
    List<EventFd> kickEvents() {
        return List.copyOf(kicks);
    }

    /** Called by the event loop when queue {@code queue}'s ioeventfd fired. */
    void kicked(int queue) {
        OptionalLong count = kicks.get(queue).read();
        if (count.isEmpty()) {
            return; // another wake-up already consumed it
        }
        ioeventfdKicks.incrementAndGet();
        transport.notifyQueue(queue);
    }

    @Override
    public void read(long offset, byte[] data) {
        transport.read(offset, data);
    }

    @Override
    public void write(long offset, byte[] data) {
        if (offset == MmioTransport.QUEUE_NOTIFY) {
            exitKicks.incrementAndGet(); // a value no ioeventfd matched (e.g. a queue that does not exist)
        }
        transport.write(offset, data);
    }

    /** Resets the device, then removes the ioeventfds and the irqfd and closes them. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        try {
            transport.device().reset();
        } catch (RuntimeException e) {
            failure = e;
        }
        for (int q = 0; q < kicks.size(); q++) {
            EventFd kick = kicks.get(q);
            try {
                vm.unregisterIoeventfd(kick, notifyAddress(), 4, OptionalLong.of(q));
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, "removing the ioeventfd of queue " + q + ": " + e.getMessage());
            }
            kick.close();
        }
        try {
            vm.unregisterIrqfd(irq, window.gsi());
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "removing the irqfd on GSI " + window.gsi() + ": " + e.getMessage());
        }
        irq.close();
        if (failure != null) {
            throw failure;
        }
    }
}
