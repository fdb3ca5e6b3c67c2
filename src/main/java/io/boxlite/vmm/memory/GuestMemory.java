package io.boxlite.vmm.memory;

import io.boxlite.sys.MemoryMapping;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Guest RAM as seen by the VMM and devices: a few non-overlapping regions, with one access API
 * in which every guest-supplied address and length is bounds-checked. An access must lie
 * entirely inside one region; anything else throws {@link GuestMemoryException}.
 *
 * <p>Multi-byte values are little-endian (x86 and virtio 1.x). {@link #close()} unmaps memory
 * this object mapped itself; memory handed in by {@link #of} stays with its owner.
 */
public final class GuestMemory implements AutoCloseable {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_ATOMIC = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN).varHandle();

    private final List<GuestRegion> regions;
    private final Arena owned;

    private GuestMemory(List<GuestRegion> regions, Arena owned) {
        List<GuestRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparing(GuestRegion::base));
        for (int i = 1; i < sorted.size(); i++) {
            if (Long.compareUnsigned(sorted.get(i).base().value(), sorted.get(i - 1).end()) < 0) {
                throw new IllegalArgumentException("guest regions overlap: " + sorted.get(i - 1) + " and " + sorted.get(i));
            }
        }
        if (sorted.isEmpty()) {
            throw new IllegalArgumentException("guest memory needs at least one region");
        }
        this.regions = List.copyOf(sorted);
        this.owned = owned;
    }

    /** A requested RAM range: {@code size} bytes at guest-physical {@code base}. */
    public record Range(GuestAddress base, long size) {
    }

    /**
     * Fresh anonymous RAM for the given ranges, zero-filled and lazily backed, owned by this
     * object: {@link #close()} unmaps it. The arena is shared because device threads read it.
     */
    public static GuestMemory anonymous(List<Range> ranges) {
        Arena arena = Arena.ofShared();
        try {
            List<GuestRegion> regions = new ArrayList<>();
            for (Range r : ranges) {
                regions.add(new GuestRegion(r.base(), MemoryMapping.anonymous(r.size(), arena)));
            }
            return new GuestMemory(regions, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Guest memory over host segments someone else owns (e.g. vhost-user mappings, tests). */
    public static GuestMemory of(List<GuestRegion> regions) {
        return new GuestMemory(regions, null);
    }

    public List<GuestRegion> regions() {
        return regions;
    }

    /** Total bytes of guest RAM. */
    public long size() {
        return regions.stream().mapToLong(GuestRegion::size).sum();
    }

    /** Whether [gpa, gpa + length) is guest RAM, inside one region. */
    public boolean isValid(GuestAddress gpa, long length) {
        return find(gpa.value(), length) != null;
    }

    /**
     * The host view of [gpa, gpa + length). The slice aliases guest RAM: the guest can change
     * it at any time, so read each field once and validate the copy.
     */
    public MemorySegment slice(GuestAddress gpa, long length) {
        GuestRegion r = find(gpa.value(), length);
        if (r == null) {
            throw new GuestMemoryException("guest range " + gpa + "+" + length + " is outside guest memory");
        }
        return r.host().asSlice(gpa.value() - r.base().value(), length);
    }

    private GuestRegion find(long gpa, long length) {
        if (length < 0) {
            return null;
        }
        for (GuestRegion r : regions) {
            if (r.contains(gpa, length)) {
                return r;
            }
        }
        return null;
    }

    public byte readByte(GuestAddress gpa) {
        return slice(gpa, 1).get(ValueLayout.JAVA_BYTE, 0);
    }

    public short readShort(GuestAddress gpa) {
        return slice(gpa, 2).get(U16, 0);
    }

    public int readInt(GuestAddress gpa) {
        return slice(gpa, 4).get(U32, 0);
    }

    public long readLong(GuestAddress gpa) {
        return slice(gpa, 8).get(U64, 0);
    }

    public void writeByte(GuestAddress gpa, byte value) {
        slice(gpa, 1).set(ValueLayout.JAVA_BYTE, 0, value);
    }

    public void writeShort(GuestAddress gpa, short value) {
        slice(gpa, 2).set(U16, 0, value);
    }

    public void writeInt(GuestAddress gpa, int value) {
        slice(gpa, 4).set(U32, 0, value);
    }

    public void writeLong(GuestAddress gpa, long value) {
        slice(gpa, 8).set(U64, 0, value);
    }

    /** Copies {@code length} bytes of guest memory into a new array. */
    public byte[] read(GuestAddress gpa, int length) {
        return slice(gpa, length).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Copies {@code data} into guest memory at {@code gpa}. */
    public void write(GuestAddress gpa, byte[] data) {
        MemorySegment.copy(data, 0, slice(gpa, data.length), ValueLayout.JAVA_BYTE, 0, data.length);
    }

    /** Copies {@code data} into guest memory at {@code gpa}. */
    public void write(GuestAddress gpa, MemorySegment data) {
        slice(gpa, data.byteSize()).copyFrom(data);
    }

    /** A 16-bit load with acquire ordering (virtqueue ring indices); {@code gpa} must be 2-aligned. */
    public short loadAcquireShort(GuestAddress gpa) {
        requireAligned(gpa, 2);
        return (short) U16_ATOMIC.getAcquire(slice(gpa, 2), 0L);
    }

    /** A 16-bit store with release ordering (virtqueue ring indices); {@code gpa} must be 2-aligned. */
    public void storeReleaseShort(GuestAddress gpa, short value) {
        requireAligned(gpa, 2);
        U16_ATOMIC.setRelease(slice(gpa, 2), 0L, value);
    }

    private static void requireAligned(GuestAddress gpa, int alignment) {
        if ((gpa.value() & (alignment - 1)) != 0) {
            throw new GuestMemoryException("guest address " + gpa + " is not " + alignment + "-byte aligned");
        }
    }

    /** Unmaps memory this object mapped; idempotent. Slices handed out become invalid. */
    @Override
    public void close() {
        if (owned != null && owned.scope().isAlive()) {
            owned.close();
        }
    }
}
