package io.boxlite.vmm.arch.x86_64;

import io.boxlite.kvm.Segment;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

/**
 * The boot GDT: null, 64-bit code (selector 0x08), data (0x10) and a busy 64-bit TSS (0x18),
 * flat over 4 GiB, and the matching {@code kvm_segment} values for the segment registers.
 */
public final class Gdt {
    private Gdt() {
    }

    public static final short CODE_SELECTOR = 0x08;
    public static final short DATA_SELECTOR = 0x10;
    public static final short TSS_SELECTOR = 0x18;

    /** The four descriptors, in order. */
    public static final long[] ENTRIES = {
        0,
        entry(0xA09B, 0, 0xFFFFF), // code: G, L (64-bit), P, DPL 0, execute/read, accessed
        entry(0xC093, 0, 0xFFFFF), // data: G, D/B, P, read/write, accessed
        entry(0x808B, 0, 0xFFFFF), // TSS: G, P, busy 64-bit TSS
    };

    /** GDTR limit: size in bytes minus one. */
    public static final short LIMIT = (short) (ENTRIES.length * 8 - 1);

    /** Encodes a descriptor from (flags, base, limit) as Firecracker's {@code gdt_entry} does. */
    public static long entry(int flags, long base, long limit) {
        return ((base & 0xFF00_0000L) << (56 - 24))
                | (((long) flags & 0x0000_F0FFL) << 40)
                | ((limit & 0x000F_0000L) << (48 - 16))
                | ((base & 0x00FF_FFFFL) << 16)
                | (limit & 0x0000_FFFFL);
    }

    /** The {@code kvm_segment} a segment register holds after loading descriptor {@code index}. */
    public static Segment segment(int index) {
        long e = ENTRIES[index];
        long base = ((e >>> 16) & 0xFF_FFFFL) | ((e >>> 32) & 0xFF00_0000L);
        long limit = (e & 0xFFFFL) | ((e >>> 32) & 0xF_0000L);
        byte g = (byte) ((e >>> 55) & 1);
        long scaledLimit = g == 1 ? (limit << 12) | 0xFFF : limit;
        byte present = (byte) ((e >>> 47) & 1);
        return new Segment(base, (int) scaledLimit, (short) (index * 8), (byte) ((e >>> 40) & 0xF), present,
                (byte) ((e >>> 45) & 3), (byte) ((e >>> 54) & 1), (byte) ((e >>> 44) & 1), (byte) ((e >>> 53) & 1),
                g, (byte) ((e >>> 52) & 1), (byte) (present == 0 ? 1 : 0));
    }

    /** Writes the GDT at {@link Layout#GDT_START} and a zero IDT entry at {@link Layout#IDT_START}. */
    public static void write(GuestMemory memory) {
        for (int i = 0; i < ENTRIES.length; i++) {
            memory.writeLong(GuestAddress.of(Layout.GDT_START + i * 8L), ENTRIES[i]);
        }
        memory.writeLong(GuestAddress.of(Layout.IDT_START), 0);
    }
}
