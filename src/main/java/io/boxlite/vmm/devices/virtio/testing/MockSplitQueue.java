package io.boxlite.vmm.devices.virtio.testing;

import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The <em>driver</em> side of a split virtqueue, for tests and benchmarks only (the role of
 * rust-vmm's {@code MockSplitQueue}): lays out the descriptor table and rings in guest memory,
 * offers chains (direct or through an indirect table), reads used entries back and recycles
 * their descriptors. Also lets a test write raw, malformed descriptors. Thread-safe. Not used by
 * the VMM; it lives in main sources so the JMH benchmarks can drive devices without a guest.
 *
 * {@snippet :
 * GuestHeap heap = new GuestHeap(memory, GuestAddress.of(0), memory.size());
 * MockSplitQueue driver = new MockSplitQueue(heap, 256);
 * Virtqueue q = new Virtqueue(256);
 * driver.configure(q);
 * q.activate(memory, VirtioFeatures.COMMON);
 * int head = driver.offer(List.of(MockSplitQueue.Buffer.readable(header, 16)));
 * }
 */
public final class MockSplitQueue {
    public static final int F_NEXT = 1;
    public static final int F_WRITE = 2;
    public static final int F_INDIRECT = 4;

    /** A buffer the driver offers: {@code length} bytes at {@code address}. */
    public record Buffer(GuestAddress address, int length, boolean writable) {
        public static Buffer readable(GuestAddress address, int length) {
            return new Buffer(address, length, false);
        }

        public static Buffer writable(GuestAddress address, int length) {
            return new Buffer(address, length, true);
        }
    }

    /** A used-ring entry: chain head and bytes the device wrote. */
    public record Used(int head, int length) {
    }

    private record Offered(List<Integer> descriptors, GuestAddress indirectTable) {
    }

    private final GuestMemory memory;
    private final GuestHeap heap;
    private final int size;
    private final GuestAddress desc;
    private final GuestAddress avail;
    private final GuestAddress used;
    private final Deque<Integer> freeDescriptors = new ArrayDeque<>();
    private final Map<Integer, Offered> offered = new HashMap<>();
    private int availIdx;
    private int lastUsed;

    /** Allocates the table and rings of a queue of {@code size} entries from {@code heap}. */
    public MockSplitQueue(GuestHeap heap, int size) {
        this.heap = heap;
        this.memory = heap.memory();
        this.size = size;
        this.desc = heap.alloc(16L * size);
        this.avail = heap.alloc(6L + 2L * size);
        this.used = heap.alloc(6L + 8L * size);
        for (int i = 0; i < size; i++) {
            freeDescriptors.add(i);
        }
    }

    public int size() {
        return size;
    }

    public GuestAddress descTable() {
        return desc;
    }

    public GuestAddress availRing() {
        return avail;
    }

    public GuestAddress usedRing() {
        return used;
    }

    /** What a driver does through the transport: size, addresses, ready. */
    public void configure(Virtqueue queue) {
        queue.setSize(size);
        queue.setDescTable(desc.value());
        queue.setAvailRing(avail.value());
        queue.setUsedRing(used.value());
        queue.setReady(true);
    }

    /** Offers a chain of direct descriptors; returns its head. */
    public synchronized int offer(List<Buffer> buffers) {
        if (buffers.isEmpty() || buffers.size() > freeDescriptors.size()) {
            throw new IllegalStateException("cannot offer " + buffers.size() + " buffers with " + freeDescriptors.size() + " free descriptors");
        }
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < buffers.size(); i++) {
            ids.add(freeDescriptors.poll());
        }
        for (int i = 0; i < buffers.size(); i++) {
            Buffer b = buffers.get(i);
            boolean last = i == buffers.size() - 1;
            int flags = (b.writable() ? F_WRITE : 0) | (last ? 0 : F_NEXT);
            writeDescriptor(desc, ids.get(i), b.address().value(), b.length(), flags, last ? 0 : ids.get(i + 1));
        }
        offered.put(ids.getFirst(), new Offered(ids, null));
        publish(ids.getFirst());
        return ids.getFirst();
    }

    /** Offers the buffers through one indirect table (allocated from the heap); returns the head. */
    public synchronized int offerIndirect(List<Buffer> buffers) {
        GuestAddress table = heap.alloc(16L * buffers.size());
        for (int i = 0; i < buffers.size(); i++) {
            Buffer b = buffers.get(i);
            boolean last = i == buffers.size() - 1;
            int flags = (b.writable() ? F_WRITE : 0) | (last ? 0 : F_NEXT);
            writeDescriptor(table, i, b.address().value(), b.length(), flags, last ? 0 : i + 1);
        }
        int head = freeDescriptors.remove();
        writeDescriptor(desc, head, table.value(), 16 * buffers.size(), F_INDIRECT, 0);
        offered.put(head, new Offered(List.of(head), table));
        publish(head);
        return head;
    }

    /** Writes one raw descriptor into the queue's table (for malformed-chain tests). */
    public void writeDescriptor(int index, long addr, long len, int flags, int next) {
        writeDescriptor(desc, index, addr, len, flags, next);
    }

    /** Writes one raw descriptor into any table (e.g. a hand-made indirect table). */
    public void writeDescriptor(GuestAddress table, int index, long addr, long len, int flags, int next) {
        GuestAddress at = table.plus(16L * index);
        memory.writeLong(at, addr);
        memory.writeInt(at.plus(8), (int) len);
        memory.writeShort(at.plus(12), (short) flags);
        memory.writeShort(at.plus(14), (short) next);
    }

    /** Puts {@code head} in the avail ring and bumps avail.idx (release), as a driver does. */
    public synchronized void publish(int head) {
        memory.writeShort(avail.plus(4 + 2L * (availIdx % size)), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        memory.storeReleaseShort(avail.plus(2), (short) availIdx);
    }

    /** The driver's avail.idx (entries published so far, mod 2^16). */
    public synchronized int availIdx() {
        return availIdx;
    }

    /**
     * Whether a driver that published entries {@code [oldIdx, newIdx)} must kick the device: with
     * EVENT_IDX when avail_event lies in that range (vring_need_event), else unless the device set
     * NO_NOTIFY in used.flags.
     */
    public boolean needsKick(int oldIdx, int newIdx, boolean eventIdx) {
        java.lang.invoke.VarHandle.fullFence(); // publish avail.idx before reading the device's avail_event/flags
        if (eventIdx) {
            int event = availEvent();
            return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
        }
        return (usedFlags() & 1) == 0;
    }

    /** Sets avail.idx to any value (for corrupt-ring tests). */
    public synchronized void setAvailIdx(int idx) {
        availIdx = idx & 0xffff;
        memory.storeReleaseShort(avail.plus(2), (short) availIdx);
    }

    public void setAvailFlags(int flags) {
        memory.writeShort(avail, (short) flags);
    }

    /** used_event: the driver wants an interrupt once used.idx passes this value. */
    public void setUsedEvent(int index) {
        memory.writeShort(avail.plus(4 + 2L * size), (short) index);
    }

    /** avail_event as the device last wrote it. */
    public int availEvent() {
        return Short.toUnsignedInt(memory.readShort(used.plus(4 + 8L * size)));
    }

    public int usedFlags() {
        return Short.toUnsignedInt(memory.readShort(used));
    }

    public int usedIdx() {
        return Short.toUnsignedInt(memory.loadAcquireShort(used.plus(2)));
    }

    /** The next used entry not yet seen, or {@code null}; its descriptors go back to the free list. */
    public synchronized Used pollUsed() {
        if (usedIdx() == lastUsed) {
            return null;
        }
        GuestAddress elem = used.plus(4 + 8L * (lastUsed % size));
        Used u = new Used(memory.readInt(elem), memory.readInt(elem.plus(4)));
        lastUsed = (lastUsed + 1) & 0xffff;
        Offered o = offered.remove(u.head());
        if (o != null) {
            freeDescriptors.addAll(o.descriptors());
            if (o.indirectTable() != null) {
                heap.free(o.indirectTable());
            }
        }
        return u;
    }

    /** Number of used entries read so far (mod 2^16); handy as a used_event value. */
    public synchronized int lastUsed() {
        return lastUsed;
    }

    public synchronized int freeDescriptors() {
        return freeDescriptors.size();
    }
}
