package io.boxlite.vmm.vstate;

import io.boxlite.InvalidArgumentException;

import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * An address space devices register ranges on: one for port I/O, one for MMIO. vCPU threads
 * look up the device for each exit; registration copies the map so lookups take no lock.
 *
 * {@snippet :
 * Bus pio = new Bus("PIO");
 * pio.register(0x3F8, 8, serial);
 * boolean claimed = pio.write(0x3F8, new byte[] {'A'});
 * }
 */
public final class Bus {
    /** One registered range: {@code size} addresses from {@code base}. */
    public record Range(long base, long size, BusDevice device) {
        boolean covers(long address, int length) {
            long offset = address - base;
            return Long.compareUnsigned(address, base) >= 0 && Long.compareUnsigned(offset, size) < 0
                    && length <= size - offset;
        }
    }

    private final String name;
    private volatile NavigableMap<Long, Range> ranges = new TreeMap<>(Long::compareUnsigned);

    public Bus(String name) {
        this.name = name;
    }

    /** Adds a device; fails if the range is empty, wraps, or overlaps a registered one. */
    public synchronized void register(long base, long size, BusDevice device) {
        if (size <= 0 || Long.compareUnsigned(base + size - 1, base) < 0) {
            throw new InvalidArgumentException(name + " range 0x" + Long.toHexString(base) + "+" + size
                    + " is empty or wraps around");
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(base + size - 1);
        if (below != null && Long.compareUnsigned(below.getValue().base() + below.getValue().size() - 1, base) >= 0) {
            throw new InvalidArgumentException(name + " range 0x" + Long.toHexString(base) + "+0x"
                    + Long.toHexString(size) + " overlaps " + describe(below.getValue()));
        }
        NavigableMap<Long, Range> copy = new TreeMap<>(ranges);
        copy.put(base, new Range(base, size, device));
        ranges = copy;
    }

    /** The range an access of {@code length} bytes at {@code address} falls in entirely, or null. */
    public Range find(long address, int length) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        return e != null && e.getValue().covers(address, length) ? e.getValue() : null;
    }

    /** Dispatches a read; false (and {@code data} untouched) when no device claims the access. */
    public boolean read(long address, byte[] data) {
        Range r = find(address, data.length);
        if (r == null) {
            return false;
        }
        r.device().read(address - r.base(), data);
        return true;
    }

    /** Dispatches a write; false when no device claims the access. */
    public boolean write(long address, byte[] data) {
        Range r = find(address, data.length);
        if (r == null) {
            return false;
        }
        r.device().write(address - r.base(), data);
        return true;
    }

    private String describe(Range r) {
        return r.device().getClass().getSimpleName() + " at 0x" + Long.toHexString(r.base()) + "+0x"
                + Long.toHexString(r.size());
    }

    @Override
    public String toString() {
        return name + " bus with " + ranges.size() + " ranges";
    }
}
