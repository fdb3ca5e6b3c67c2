package io.boxlite.disk.qcow2;

/** Where one guest cluster's data lives, decoded from its L2 entry. */
sealed interface ClusterMapping {
    /** No data here: read the backing file, or zeros without one. */
    record Unallocated() implements ClusterMapping {}

    /**
     * Reads as zeros (version 3 zero flag); {@code hostOffset} may keep a preallocated cluster
     * (0 if none), writable in place when {@code copied}.
     */
    record Zero(long hostOffset, boolean copied) implements ClusterMapping {}

    /** Plain data at {@code hostOffset}; {@code copied} means refcount one, writable in place. */
    record Data(long hostOffset, boolean copied) implements ClusterMapping {}

    /**
     * Deflate-compressed data starting at byte {@code hostOffset}; it ends before
     * {@code (hostOffset & ~511) + sectors * 512}.
     */
    record Compressed(long hostOffset, int sectors) implements ClusterMapping {
        long freeStart() {
            return hostOffset & ~511L;
        }

        long freeLength() {
            return sectors * 512L;
        }
    }

    Unallocated UNALLOCATED = new Unallocated();
    Zero ZERO_PLAIN = new Zero(0, false);
}
