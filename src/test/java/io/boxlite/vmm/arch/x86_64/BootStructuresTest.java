package io.boxlite.vmm.arch.x86_64;

import io.boxlite.InvalidArgumentException;
import io.boxlite.kvm.CpuidEntry;
import io.boxlite.kvm.Segment;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/** Host-side checks of the boot structures (the boot-check guest checks them again from inside). */
class BootStructuresTest {
    @Test
    void gdtEntriesMatchTheKnownEncodingsAndSegmentsFollowFromThem() {
        assertEquals(0x00AF_9B00_0000_FFFFL, Gdt.ENTRIES[1]);
        assertEquals(0x00CF_9300_0000_FFFFL, Gdt.ENTRIES[2]);
        assertEquals(0x008F_8B00_0000_FFFFL, Gdt.ENTRIES[3]);
        Segment code = Gdt.segment(1);
        assertEquals(0x08, code.selector());
        assertEquals(0xFFFF_FFFF, code.limit());
        assertEquals(1, code.l());
        assertEquals(0, code.db());
        assertEquals(0xB, code.type());
        Segment data = Gdt.segment(2);
        assertEquals(1, data.db());
        assertEquals(0, data.l());
        assertEquals(3, data.type());
        assertEquals(0, Gdt.segment(3).unusable());
        assertEquals(0xB, Gdt.segment(3).type());
    }

    @Test
    void e820SplitsLowMemoryAroundTheSystemAreaAndListsHighRam() {
        List<GuestMemory.Range> ranges = Arch.ramRanges(4L << 30);
        assertEquals(List.of(new GuestMemory.Range(GuestAddress.of(0), 0xC000_0000L),
                new GuestMemory.Range(GuestAddress.of(0x1_0000_0000L), 1L << 30)), ranges);
        assertThrows(InvalidArgumentException.class, () -> Arch.ramRanges(1 << 20));
    }

    @Test
    void theZeroPageCarriesHeaderLoaderCmdlineInitrdE820AndRsdp() {
        List<E820.Entry> e820 = List.of(new E820.Entry(0, 0x9FC00, 1), new E820.Entry(0x10_0000, 0x100_0000, 1));
        byte[] page = ZeroPage.build(Optional.empty(), 0x20000, 12, Optional.of(new ZeroPage.Initrd(0x1_2345_6000L, 0x1234)),
                e820, 0xE0000);
        ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals((short) 0xAA55, b.getShort(0x1FE));
        assertEquals(0x5372_6448, b.getInt(0x202));
        assertEquals((byte) 0xFF, b.get(0x210));
        assertEquals(0x20000, b.getInt(0x228));
        assertEquals(12, b.getInt(0x238));
        assertEquals(0x2345_6000, b.getInt(0x218));
        assertEquals(1, b.getInt(0x0C0), "ext_ramdisk_image: bits 32+ of the initrd address");
        assertEquals(0x1234, b.getInt(0x21C));
        assertEquals(0xE0000, b.getLong(0x070));
        assertEquals(2, b.get(0x1E8));
        assertEquals(0x10_0000, b.getLong(0x2D0 + 20));
        assertEquals(0x100_0000, b.getLong(0x2D0 + 28));
        assertEquals(0x100_0000, b.getInt(0x230), "an ELF kernel gets 16 MiB alignment");
    }

    @Test
    void commandLinesAreBoundedPrintableAndAnnounceVirtioMmio() {
        KernelCmdline c = KernelCmdline.withCapacity(64).append(" console=ttyS0 ").addVirtioMmioDevice(0x1000, 0xC000_1000L, 5);
        assertEquals("console=ttyS0 virtio_mmio.device=4K@0xc0001000:5", c.toString());
        assertEquals(0, c.bytesWithNul()[c.bytesWithNul().length - 1]);
        assertThrows(InvalidArgumentException.class, () -> KernelCmdline.withCapacity(64).append("a\nb"));
        assertThrows(InvalidArgumentException.class, () -> KernelCmdline.withCapacity(8).append("12345678"));
        KernelCmdline.withCapacity(8).append("1234567"); // exactly fits with its NUL
    }

    @Test
    void cpuidGivesEachVcpuItsApicIdTopologyAndTheHypervisorLeaf() {
        List<CpuidEntry> host = List.of(new CpuidEntry(0, 0, 0, 0x10, 0x6874_7541, 0x444D_4163, 0x6974_6E65),
                new CpuidEntry(1, 0, 0, 0, 0x00AA_0000, 0x0000_8000, 0), new CpuidEntry(0xA, 0, 0, 1, 2, 3, 4),
                new CpuidEntry(0xB, 0, 1, 9, 9, 9, 9), new CpuidEntry(0x8000_0008, 0, 0, 0, 0, 0xFF, 0));
        List<CpuidEntry> cpu3 = Cpuid.normalise(host, 3, 4);
        CpuidEntry leaf1 = find(cpu3, 1, 0);
        assertEquals(3, leaf1.ebx() >>> 24);
        assertEquals(4, (leaf1.ebx() >> 16) & 0xFF);
        assertEquals(0, leaf1.ecx() & (1 << 15), "PDCM cleared");
        assertTrue((leaf1.ecx() & (1 << 31)) != 0, "hypervisor bit");
        assertTrue((leaf1.edx() & (1 << 28)) != 0, "HTT with 4 CPUs");
        assertEquals(new CpuidEntry(0xA, 0, 0, 0, 0, 0, 0), find(cpu3, 0xA, 0));
        assertEquals(3, find(cpu3, 0xB, 0).edx());
        assertEquals(4, find(cpu3, 0xB, 1).ebx());
        assertEquals(2, find(cpu3, 0xB, 1).eax(), "2 bits of core ID");
        assertEquals(0x2003, find(cpu3, 0x8000_0008, 0).ecx(), "AMD: ApicIdSize 2, NC 3");
        assertEquals(0x4B4D_564B, find(cpu3, Cpuid.HYPERVISOR_LEAF, 0).ebx(), "KVMKVMKVM added");
        assertEquals(1, cpu3.stream().filter(e -> e.function() == 0xB && e.index() == 0).count(), "host 0xB replaced");
    }

    private static CpuidEntry find(List<CpuidEntry> l, int function, int index) {
        return l.stream().filter(e -> e.function() == function && e.index() == index).findFirst().orElseThrow();
    }

    @Test
    void pageTablesIdentityMapFourGibInTwoMibPages() {
        try (GuestMemory m = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 1 << 20)))) {
            PageTables.write(m);
            assertEquals(Layout.PDPT_START | 3, m.readLong(GuestAddress.of(Layout.PML4_START)));
            assertEquals((Layout.PD_START + 0x3000) | 3, m.readLong(GuestAddress.of(Layout.PDPT_START + 24)));
            assertEquals(0xFEE0_0000L | 0x83, m.readLong(GuestAddress.of(Layout.PD_START + 0x3000 + (0x3EE0_0000L >> 21) * 8)));
            assertEquals(0, m.readLong(GuestAddress.of(Layout.PDPT_START + 32)), "nothing above 4 GiB");
        }
    }

    @Test
    void anInitrdThatDoesNotFitAboveTheKernelIsRefused() {
        try (GuestMemory m = GuestMemory.anonymous(Arch.ramRanges(16L << 20))) {
            var kernel = new io.boxlite.vmm.loader.LoadedKernel(0x10_0000, 0x80_0000, 0x10_0200, Optional.empty(),
                    java.util.OptionalLong.empty());
            assertEquals((16L << 20) - 0x2000, Arch.placeInitrd(m, kernel, 0x1800));
            assertTrue(assertThrows(InvalidArgumentException.class, () -> Arch.placeInitrd(m, kernel, 12L << 20))
                    .getMessage().contains("give the VM more memory"));
        }
    }
}
