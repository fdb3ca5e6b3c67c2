package io.boxlite.vmm.arch.x86_64;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

/**
 * Boot page tables: an identity map of the low {@link Layout#IDENTITY_MAPPED_GIB} GiB in 2 MiB
 * pages, so the kernel, zero page, command line, ACPI tables and the MMIO/LAPIC range below
 * 4 GiB are all reachable at entry. (1 GiB pages triple-fault on KVM-PVM.)
 */
public final class PageTables {
    private PageTables() {
    }

    static final long PRESENT_WRITABLE = 0x3;
    static final long PAGE_2M = 0x83; // present, writable, page size

    /** The CR3 value. */
    public static final long ROOT = Layout.PML4_START;

    public static void write(GuestMemory memory) {
        memory.writeLong(GuestAddress.of(Layout.PML4_START), Layout.PDPT_START | PRESENT_WRITABLE);
        for (int gib = 0; gib < Layout.IDENTITY_MAPPED_GIB; gib++) {
            long pd = Layout.PD_START + gib * 0x1000L;
            memory.writeLong(GuestAddress.of(Layout.PDPT_START + gib * 8L), pd | PRESENT_WRITABLE);
            for (int i = 0; i < 512; i++) {
                long physical = ((long) gib << 30) | ((long) i << 21);
                memory.writeLong(GuestAddress.of(pd + i * 8L), physical | PAGE_2M);
            }
        }
    }
}
