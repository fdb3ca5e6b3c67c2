package io.boxlite.vmm.devices.virtio;

import io.boxlite.InvalidArgumentException;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The device side of one split virtqueue (virtio 1.x §2.7): descriptor table, available ring
 * (driver area) and used ring (device area) in guest memory.
 *
 * <p>Life cycle: the transport sets size, addresses and ready while the driver configures the
 * queue, then {@link #activate} checks the layout against guest memory and the negotiated
 * features. A device then pops chains ({@link #popChain}, or the canonical loop in
 * {@link #drain}), completes them ({@link #addUsed}), and notifies when
 * {@link #needsNotification} says so. {@link #reset} returns to the unconfigured state.
 *
 * <p>Thread-safe: one lock guards the ring state, so completions may come from many request
 * threads at once (as virtio-blk does); ring-index accesses carry explicit acquire/release
 * ordering because the driver on another CPU reads and writes the same memory.
 */
public final class Virtqueue {
    /** Largest queue size virtio allows. */
    public static final int MAX_SIZE = 32768;
    /** Default cap on the bytes one chain may describe. */
    public static final long DEFAULT_MAX_CHAIN_BYTES = 64L << 20;

    private static final int AVAIL_F_NO_INTERRUPT = 1;
    private static final int USED_F_NO_NOTIFY = 1;

    private final ReentrantLock lock = new ReentrantLock();
    private final int maxSize;
    private int size;
    private boolean ready;
    private long descTable;
    private long availRing;
    private long usedRing;
    private long maxChainBytes = DEFAULT_MAX_CHAIN_BYTES;

    private GuestMemory memory;
    private boolean active;
    private boolean eventIdx;
    private boolean indirect;
    private int nextAvail;
    private int nextUsed;
    private int signalledUsed = -1;

    /** A queue the driver may size up to {@code maxSize} (a power of two, at most 32768). */
    public Virtqueue(int maxSize) {
        if (maxSize < 1 || maxSize > MAX_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue max size " + maxSize + " is not a power of two in 1.." + MAX_SIZE);
        }
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return locked(() -> size);
    }

    /** Driver's chosen size; checked at {@link #activate}. */
    public void setSize(int size) {
        locked(() -> this.size = size);
    }

    public boolean ready() {
        return locked(() -> ready);
    }

    public void setReady(boolean ready) {
        locked(() -> this.ready = ready);
    }

    public long descTable() {
        return locked(() -> descTable);
    }

    public void setDescTable(long gpa) {
        locked(() -> descTable = gpa);
    }

    public long availRing() {
        return locked(() -> availRing);
    }

    public void setAvailRing(long gpa) {
        locked(() -> availRing = gpa);
    }

    public long usedRing() {
        return locked(() -> usedRing);
    }

    public void setUsedRing(long gpa) {
        locked(() -> usedRing = gpa);
    }

    /** Caps the bytes one chain may describe (a device's largest sensible request). */
    public void setMaxChainBytes(long max) {
        if (max < 1 || max > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("max chain bytes " + max + " is outside 1.." + Integer.MAX_VALUE);
        }
        locked(() -> maxChainBytes = max);
    }

    /** Index of the next avail-ring entry the device will consume (vhost-user GET_VRING_BASE). */
    public int nextAvail() {
        return locked(() -> nextAvail);
    }

    /** Resumes consumption at {@code index} (vhost-user SET_VRING_BASE). */
    public void setNextAvail(int index) {
        locked(() -> nextAvail = index & 0xffff);
    }

    public int nextUsed() {
        return locked(() -> nextUsed);
    }

    public void setNextUsed(int index) {
        locked(() -> nextUsed = index & 0xffff);
    }

    /** Whether {@link #activate} succeeded and no {@link #reset} followed. */
    public boolean active() {
        return locked(() -> active);
    }

    /**
     * Checks the driver's layout and starts serving: size a power of two in 1..max, areas
     * aligned (16/2/4) and wholly inside guest memory. Uses EVENT_IDX and indirect descriptors
     * if {@code ackedFeatures} has them.
     *
     * @throws InvalidArgumentException naming the first problem; the queue stays inactive
     */
    public void activate(GuestMemory memory, long ackedFeatures) {
        lock.lock();
        try {
            if (!ready) {
                throw new InvalidArgumentException("queue is not ready");
            }
            if (size < 1 || size > maxSize || Integer.bitCount(size) != 1) {
                throw new InvalidArgumentException("queue size " + size + " is not a power of two in 1.." + maxSize);
            }
            checkArea(memory, "descriptor table", descTable, 16L * size, 16);
            checkArea(memory, "available ring", availRing, 6L + 2L * size, 2);
            checkArea(memory, "used ring", usedRing, 6L + 8L * size, 4);
            this.memory = memory;
            this.eventIdx = VirtioFeatures.has(ackedFeatures, VirtioFeatures.RING_EVENT_IDX);
            this.indirect = VirtioFeatures.has(ackedFeatures, VirtioFeatures.RING_INDIRECT_DESC);
            this.signalledUsed = -1;
            this.active = true;
        } finally {
            lock.unlock();
        }
    }

    private static void checkArea(GuestMemory memory, String what, long gpa, long length, int alignment) {
        if ((gpa & (alignment - 1)) != 0) {
            throw new InvalidArgumentException(what + " at 0x" + Long.toHexString(gpa) + " is not " + alignment + "-byte aligned");
        }
        if (!memory.isValid(GuestAddress.of(gpa), length)) {
            throw new InvalidArgumentException(what + " 0x" + Long.toHexString(gpa) + "+" + length + " is outside guest memory");
        }
    }

    /** Back to the unconfigured state; completions still in flight are then dropped. */
    public void reset() {
        lock.lock();
        try {
            active = false;
            ready = false;
            memory = null;
            size = maxSize;
            descTable = availRing = usedRing = 0;
            nextAvail = nextUsed = 0;
            signalledUsed = -1;
            eventIdx = indirect = false;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Pops the next available chain, or returns {@code null} if the driver offered none (or the
     * queue is not active). The
     * chain's descriptors are validated later, as they are walked.
     *
     * @throws VirtqueueException with a {@linkplain VirtqueueError#breaksQueue() queue-breaking}
     *                            error when the ring itself is corrupt
     */
    public DescriptorChain popChain() throws VirtqueueException {
        lock.lock();
        try {
            if (!active) {
                return null; // reset raced with the worker
            }
            int pending = pendingLocked();
            if (pending == 0) {
                return null;
            }
            int slot = nextAvail % size;
            int head = Short.toUnsignedInt(memory.readShort(GuestAddress.of(availRing + 4 + 2L * slot)));
            nextAvail = (nextAvail + 1) & 0xffff;
            if (head >= size) {
                throw new VirtqueueException(VirtqueueError.HEAD_OUT_OF_RANGE,
                        "avail ring entry " + slot + " names head " + head + " in a queue of " + size);
            }
            return new DescriptorChain(memory, GuestAddress.of(descTable), size, head, indirect, maxChainBytes);
        } finally {
            lock.unlock();
        }
    }

    /** Gives back the chain popped last, so the next {@link #popChain} returns it again. */
    public void undoPop() {
        locked(() -> nextAvail = (nextAvail - 1) & 0xffff);
    }

    /** Whether the driver has offered chains not yet popped. */
    public boolean hasAvailable() throws VirtqueueException {
        lock.lock();
        try {
            return active && pendingLocked() > 0;
        } finally {
            lock.unlock();
        }
    }

    private int pendingLocked() throws VirtqueueException {
        // acquire: ring entries and descriptors read after this see what the driver wrote before bumping idx
        int availIdx = Short.toUnsignedInt(memory.loadAcquireShort(GuestAddress.of(availRing + 2)));
        int pending = (availIdx - nextAvail) & 0xffff;
        if (pending > size) {
            throw new VirtqueueException(VirtqueueError.AVAIL_INDEX_JUMP,
                    "avail.idx " + availIdx + " is " + pending + " entries past " + nextAvail + " in a queue of " + size);
        }
        return pending;
    }

    /**
     * Publishes a completed chain: {@code head} is its head index, {@code length} the bytes the
     * device wrote into it. Returns {@code false} (and does nothing) if the queue was reset
     * meanwhile, which happens when a reset races with a request in flight.
     */
    public boolean addUsed(int head, int length) {
        lock.lock();
        try {
            if (!active) {
                return false;
            }
            if (head < 0 || head >= size) {
                throw new IllegalArgumentException("used head " + head + " outside a queue of " + size);
            }
            long elem = usedRing + 4 + 8L * (nextUsed % size);
            memory.writeInt(GuestAddress.of(elem), head);
            memory.writeInt(GuestAddress.of(elem + 4), length);
            nextUsed = (nextUsed + 1) & 0xffff;
            // release: the used element written above is visible before the new used.idx
            memory.storeReleaseShort(GuestAddress.of(usedRing + 2), (short) nextUsed);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the driver wants an interrupt for the used entries added since the last
     * notification: with EVENT_IDX, whether used.idx passed used_event; otherwise whether
     * avail.flags lacks NO_INTERRUPT. Call after adding used entries, then signal if true.
     */
    public boolean needsNotification() {
        lock.lock();
        try {
            if (!active) {
                return false;
            }
            // full fence: our used.idx store must be visible before we read the driver's used_event/flags
            VarHandle.fullFence();
            if (eventIdx) {
                int usedEvent = Short.toUnsignedInt(memory.readShort(GuestAddress.of(availRing + 4 + 2L * size)));
                int old = signalledUsed;
                signalledUsed = nextUsed;
                if (old < 0) {
                    return true;
                }
                return ((nextUsed - usedEvent - 1) & 0xffff) < ((nextUsed - old) & 0xffff);
            }
            int flags = Short.toUnsignedInt(memory.readShort(GuestAddress.of(availRing)));
            return (flags & AVAIL_F_NO_INTERRUPT) == 0;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #addUsed} then {@link #needsNotification}, atomically: for concurrent completions. */
    public boolean addUsedAndCheckNotify(int head, int length) {
        lock.lock();
        try {
            return addUsed(head, length) && needsNotification();
        } finally {
            lock.unlock();
        }
    }

    /** Asks the driver not to kick (no-op with EVENT_IDX, where avail_event is simply left behind). */
    public void disableNotification() {
        lock.lock();
        try {
            if (active && !eventIdx) {
                memory.writeShort(GuestAddress.of(usedRing), (short) USED_F_NO_NOTIFY);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Asks the driver to kick on new buffers and returns whether some arrived already (then the
     * caller must keep draining: a kick for those may never come).
     */
    public boolean enableNotification() throws VirtqueueException {
        lock.lock();
        try {
            if (!active) {
                return false;
            }
            if (eventIdx) {
                memory.writeShort(GuestAddress.of(usedRing + 4 + 8L * size), (short) nextAvail);
            } else {
                memory.writeShort(GuestAddress.of(usedRing), (short) 0);
            }
            // full fence: publish avail_event/flags before re-reading avail.idx, or a kick could be lost
            VarHandle.fullFence();
            return pendingLocked() > 0;
        } finally {
            lock.unlock();
        }
    }

    /** Processes one chain; must not throw (a bad chain fails its own request). */
    @FunctionalInterface
    public interface ChainHandler {
        void handle(DescriptorChain chain);
    }

    /**
     * The canonical loop: disable notifications, pop and handle every chain, re-enable, and go
     * round again if the driver added chains meanwhile. The caller signals used buffers after.
     *
     * @throws VirtqueueException only for queue-breaking errors (the device must ask for a reset)
     */
    public void drain(ChainHandler handler) throws VirtqueueException {
        do {
            disableNotification();
            for (DescriptorChain c = popChain(); c != null; c = popChain()) {
                handler.handle(c);
            }
        } while (enableNotification());
    }

    private <T> T locked(java.util.function.Supplier<T> body) {
        lock.lock();
        try {
            return body.get();
        } finally {
            lock.unlock();
        }
    }
}
