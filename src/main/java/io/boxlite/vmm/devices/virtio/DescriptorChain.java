package io.boxlite.vmm.devices.virtio;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * A descriptor chain popped from a split virtqueue, walked lazily: each descriptor is read from
 * guest memory and validated only when {@link #next()} reaches it (the guest may rewrite the
 * table at any time, so nothing is checked "up front" and trusted later).
 *
 * <p>Checks on every step: descriptor index inside its table, buffer inside guest RAM, at most
 * queue-size descriptors (catches loops), total bytes within the queue's limit, indirect tables
 * only when negotiated, never nested, never combined with NEXT, a length that is a non-zero
 * multiple of 16 and inside RAM, and no device-readable buffer after a device-writable one.
 * Not thread-safe: one worker walks a chain.
 */
public final class DescriptorChain {
    static final int DESCRIPTOR_SIZE = 16;
    static final int F_NEXT = 1;
    static final int F_WRITE = 2;
    static final int F_INDIRECT = 4;

    private final GuestMemory memory;
    private final int queueSize;
    private final int headIndex;
    private final boolean indirectAllowed;
    private final long maxBytes;

    private GuestAddress table;
    private int tableEntries;
    private boolean inIndirect;
    private int nextIndex;
    private boolean hasNext = true;
    private int visited;
    private long totalBytes;
    private boolean seenWritable;

    DescriptorChain(GuestMemory memory, GuestAddress descTable, int queueSize, int headIndex,
                    boolean indirectAllowed, long maxBytes) {
        this.memory = memory;
        this.table = descTable;
        this.tableEntries = queueSize;
        this.queueSize = queueSize;
        this.headIndex = headIndex;
        this.nextIndex = headIndex;
        this.indirectAllowed = indirectAllowed;
        this.maxBytes = maxBytes;
    }

    /** The head descriptor index: the id to hand to {@link Virtqueue#addUsed}. */
    public int headIndex() {
        return headIndex;
    }

    /** The next validated buffer, or {@code null} at the end of the chain. */
    public Descriptor next() throws VirtqueueException {
        while (hasNext) {
            if (++visited > tableEntries) {
                throw new VirtqueueException(VirtqueueError.CHAIN_TOO_LONG,
                        "descriptor chain at head " + headIndex + " is longer than its table (" + tableEntries + " entries): a loop or an oversize chain");
            }
            if (nextIndex >= tableEntries) {
                throw new VirtqueueException(VirtqueueError.DESCRIPTOR_INDEX_OUT_OF_RANGE,
                        "descriptor index " + nextIndex + " is outside a table of " + tableEntries);
            }
            GuestAddress at = table.plus((long) nextIndex * DESCRIPTOR_SIZE);
            // One copy of the 16 bytes; the guest may change them after this read.
            byte[] raw = memory.read(at, DESCRIPTOR_SIZE);
            long addr = le64(raw, 0);
            long len = Integer.toUnsignedLong(le32(raw, 8));
            int flags = le16(raw, 12);
            int next = le16(raw, 14);
            if ((flags & F_INDIRECT) != 0) {
                enterIndirect(addr, len, flags);
                continue;
            }
            return buffer(addr, len, flags, next);
        }
        return null;
    }

    private void enterIndirect(long addr, long len, int flags) throws VirtqueueException {
        if (inIndirect) {
            throw new VirtqueueException(VirtqueueError.NESTED_INDIRECT, "indirect descriptor inside an indirect table");
        }
        if (!indirectAllowed) {
            throw new VirtqueueException(VirtqueueError.INDIRECT_NOT_NEGOTIATED,
                    "indirect descriptor although VIRTIO_F_INDIRECT_DESC was not negotiated");
        }
        if ((flags & F_NEXT) != 0) {
            throw new VirtqueueException(VirtqueueError.INDIRECT_WITH_NEXT, "descriptor has both INDIRECT and NEXT set");
        }
        if (len == 0 || len % DESCRIPTOR_SIZE != 0 || len / DESCRIPTOR_SIZE > queueSize) {
            throw new VirtqueueException(VirtqueueError.BAD_INDIRECT_LENGTH,
                    "indirect table length " + len + " is not a non-zero multiple of 16 of at most " + queueSize + " entries");
        }
        GuestAddress indirect = GuestAddress.of(addr);
        if (!memory.isValid(indirect, len)) {
            throw new VirtqueueException(VirtqueueError.INDIRECT_OUT_OF_RANGE,
                    "indirect table " + indirect + "+" + len + " is outside guest memory");
        }
        inIndirect = true;
        table = indirect;
        tableEntries = Math.toIntExact(len / DESCRIPTOR_SIZE);
        nextIndex = 0;
        visited = 0;
    }

    private Descriptor buffer(long addr, long len, int flags, int next) throws VirtqueueException {
        GuestAddress address = GuestAddress.of(addr);
        if (!memory.isValid(address, len)) {
            throw new VirtqueueException(VirtqueueError.BUFFER_OUT_OF_RANGE,
                    "buffer " + address + "+" + len + " is outside guest memory");
        }
        totalBytes += len;
        if (totalBytes > maxBytes) {
            throw new VirtqueueException(VirtqueueError.CHAIN_TOO_LARGE,
                    "descriptor chain at head " + headIndex + " exceeds " + maxBytes + " bytes");
        }
        boolean writable = (flags & F_WRITE) != 0;
        if (!writable && seenWritable) {
            throw new VirtqueueException(VirtqueueError.READABLE_AFTER_WRITABLE,
                    "device-readable buffer after a device-writable one in chain at head " + headIndex);
        }
        seenWritable |= writable;
        hasNext = (flags & F_NEXT) != 0;
        nextIndex = next;
        return new Descriptor(address, Math.toIntExact(len), writable);
    }

    /** Walks the rest of the chain and returns its buffers; fails on the first invalid one. */
    public List<Descriptor> collect() throws VirtqueueException {
        List<Descriptor> all = new ArrayList<>();
        for (Descriptor d = next(); d != null; d = next()) {
            all.add(d);
        }
        return all;
    }

    /** Walks the rest of the chain and returns it split into readable and writable buffers. */
    public GuestBuffers.Split split() throws VirtqueueException {
        return GuestBuffers.split(memory, collect());
    }

    private static long le64(byte[] b, int off) {
        return Integer.toUnsignedLong(le32(b, off)) | ((long) le32(b, off + 4) << 32);
    }

    private static int le32(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
    }

    private static int le16(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8;
    }
}
