package io.boxlite.vmm.memory;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous range of guest RAM: {@code host.byteSize()} bytes at guest-physical
 * {@code base}, backed by host memory {@code host}.
 */
public record GuestRegion(GuestAddress base, MemorySegment host) {
    public GuestRegion {
        if (host.byteSize() == 0) {
            throw new IllegalArgumentException("empty guest region at " + base);
        }
        base.plus(host.byteSize() - 1); // rejects a region that would wrap past 2^64
    }

    public long size() {
        return host.byteSize();
    }

    /** First address past the region, as an unsigned value (may be 2^64 wrapped to 0 only if rejected above). */
    public long end() {
        return base.value() + host.byteSize();
    }

    /** Whether [gpa, gpa + length) lies entirely inside this region. */
    boolean contains(long gpa, long length) {
        long offset = gpa - base.value();
        return Long.compareUnsigned(gpa, base.value()) >= 0
                && Long.compareUnsigned(offset, size()) < 0
                && length >= 0 && length <= size() - offset;
    }
}
