package io.boxlite.disk.qcow2;

/** Bit layout of L1, L2 and refcount table entries (qcow2.txt, "Cluster mapping"). */
final class Entries {
    /** Refcount is exactly one: the cluster may be written in place. */
    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    /** Standard cluster descriptor bit 0 (version 3): reads as zeros. */
    static final long ZERO = 1L;
    /** Bits 9-55: a cluster-aligned host offset. */
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** Host offsets must stay below 64 PB (56 bits). */
    static final long MAX_HOST_OFFSET = 1L << 56;
    static final long L1_RESERVED = 0x7f00_0000_0000_01ffL;
    static final long L2_RESERVED = 0x3f00_0000_0000_01feL;
    static final long REFTABLE_RESERVED = 0x1ffL;

    private Entries() {}
}
