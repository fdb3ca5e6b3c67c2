package io.boxlite.vmm.arch.x86_64;

import io.boxlite.vmm.memory.GuestRegion;

import java.util.ArrayList;
import java.util.List;

/** The BIOS memory map handed to the kernel in the zero page. */
public final class E820 {
    private E820() {
    }

    public static final int RAM = 1;
    public static final int RESERVED = 2;
    /** The zero page's table holds at most this many entries. */
    public static final int MAX_ENTRIES = 128;

    /** One range: {@code size} bytes at {@code address} of {@code type}. */
    public record Entry(long address, long size, int type) {
    }

    /**
     * RAM below the EBDA, the reserved system area up to 1 MiB (ACPI tables live there), then
     * each RAM region from 1 MiB on.
     */
    public static List<Entry> of(List<GuestRegion> ram) {
        if (ram.isEmpty() || ram.getFirst().base().value() != 0 || ram.getFirst().end() <= Layout.HIMEM_START) {
            throw new IllegalArgumentException("guest RAM must start at 0 and extend past 1 MiB");
        }
        List<Entry> out = new ArrayList<>();
        out.add(new Entry(0, Layout.EBDA_START, RAM));
        out.add(new Entry(Layout.EBDA_START, Layout.HIMEM_START - Layout.EBDA_START, RESERVED));
        for (GuestRegion r : ram) {
            long start = Math.max(r.base().value(), Layout.HIMEM_START);
            out.add(new Entry(start, r.end() - start, RAM));
        }
        return List.copyOf(out);
    }
}
