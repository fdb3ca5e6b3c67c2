package io.boxlite.vmm.memory;

/** A guest-physical address: an unsigned 64-bit value. */
public record GuestAddress(long value) implements Comparable<GuestAddress> {
    public static GuestAddress of(long value) {
        return new GuestAddress(value);
    }

    /** This address plus {@code offset}, failing rather than wrapping past 2^64. */
    public GuestAddress plus(long offset) {
        long sum = value + offset;
        if (offset < 0 || Long.compareUnsigned(sum, value) < 0) {
            throw new GuestMemoryException("guest address 0x" + Long.toHexString(value) + " + " + offset + " overflows");
        }
        return new GuestAddress(sum);
    }

    @Override
    public int compareTo(GuestAddress other) {
        return Long.compareUnsigned(value, other.value);
    }

    @Override
    public String toString() {
        return "0x" + Long.toHexString(value);
    }
}
