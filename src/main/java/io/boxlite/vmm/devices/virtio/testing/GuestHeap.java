package io.boxlite.vmm.devices.virtio.testing;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Driver-side allocator of guest RAM for tests and benchmarks (plays the guest kernel's
 * allocator): first-fit over one range, 16-byte granules, freed blocks coalesced. Thread-safe.
 * Not used by the VMM.
 */
public final class GuestHeap {
    private static final long GRANULE = 16;

    private final GuestMemory memory;
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private final Map<Long, Long> allocated = new HashMap<>();

    /** Hands out {@code [base, base + size)}, which must be guest RAM. */
    public GuestHeap(GuestMemory memory, GuestAddress base, long size) {
        if (!memory.isValid(base, size)) {
            throw new IllegalArgumentException("heap " + base + "+" + size + " is not guest RAM");
        }
        this.memory = memory;
        long start = align(base.value());
        free.put(start, base.value() + size - start);
    }

    public GuestMemory memory() {
        return memory;
    }

    /** {@code length} bytes, 16-byte aligned and zeroed. */
    public synchronized GuestAddress alloc(long length) {
        long want = Math.max(GRANULE, align(length));
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            long at = e.getKey();
            long have = e.getValue(); // read before remove(): TreeMap may reuse the entry object
            if (have >= want) {
                free.remove(at);
                if (have > want) {
                    free.put(at + want, have - want);
                }
                allocated.put(at, want);
                memory.slice(GuestAddress.of(at), want).fill((byte) 0);
                return GuestAddress.of(at);
            }
        }
        throw new IllegalStateException("guest heap exhausted allocating " + length + " bytes");
    }

    public synchronized void free(GuestAddress address) {
        Long len = allocated.remove(address.value());
        if (len == null) {
            throw new IllegalArgumentException("not allocated: " + address);
        }
        long at = address.value();
        long size = len;
        Map.Entry<Long, Long> before = free.floorEntry(at);
        if (before != null && before.getKey() + before.getValue() == at) {
            free.remove(before.getKey());
            at = before.getKey();
            size += before.getValue();
        }
        Long after = free.get(at + size);
        if (after != null) {
            free.remove(at + size);
            size += after;
        }
        free.put(at, size);
    }

    private static long align(long v) {
        return (v + GRANULE - 1) & -GRANULE;
    }
}
