package io.boxlite.vmm.devices.virtio;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A coalescing wake-up flag for a device worker: any number of {@link #signal()} calls before
 * the worker waits make one wake-up. Waiting parks a virtual thread cheaply (no native call).
 */
public final class WakeSignal {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition raised = lock.newCondition();
    private boolean pending;

    public void signal() {
        lock.lock();
        try {
            pending = true;
            raised.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until signalled (or interrupted), then clears the flag. */
    public void await() throws InterruptedException {
        lock.lock();
        try {
            while (!pending) {
                raised.await();
            }
            pending = false;
        } finally {
            lock.unlock();
        }
    }

    /** Like {@link #await()} with a bound; returns whether a signal arrived. */
    public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        lock.lock();
        try {
            while (!pending) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = raised.awaitNanos(nanos);
            }
            pending = false;
            return true;
        } finally {
            lock.unlock();
        }
    }
}
