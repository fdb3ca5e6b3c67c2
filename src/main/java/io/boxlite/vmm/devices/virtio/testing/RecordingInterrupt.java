package io.boxlite.vmm.devices.virtio.testing;

import io.boxlite.vmm.devices.virtio.Interrupt;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An {@link Interrupt} for tests and benchmarks (the driver side): counts used-buffer and config
 * interrupts, records reset requests, and lets the driver wait for the next interrupt.
 * Not used by the VMM.
 */
public final class RecordingInterrupt implements Interrupt {
    private final AtomicInteger used = new AtomicInteger();
    private final AtomicInteger config = new AtomicInteger();
    private final List<String> resetReasons = new CopyOnWriteArrayList<>();
    private final Semaphore events = new Semaphore(0);

    @Override
    public void signalUsed(int queue) {
        used.incrementAndGet();
        events.release();
    }

    @Override
    public void signalConfigChange() {
        config.incrementAndGet();
        events.release();
    }

    @Override
    public void needsReset(int queue, String reason) {
        resetReasons.add(reason);
        events.release();
    }

    public int usedCount() {
        return used.get();
    }

    public int configCount() {
        return config.get();
    }

    public List<String> resetReasons() {
        return List.copyOf(resetReasons);
    }

    /** Waits up to {@code timeout} for an interrupt of any kind; returns whether one came. */
    public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        if (!events.tryAcquire(timeout, unit)) {
            return false;
        }
        events.drainPermits();
        return true;
    }
}
