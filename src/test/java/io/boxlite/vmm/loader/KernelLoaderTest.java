package io.boxlite.vmm.loader;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import io.boxlite.vmm.testguests.TestGuest;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

class KernelLoaderTest {
    private static final long MIB = 1 << 20;

    private static GuestMemory ram(long bytes) {
        return GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), bytes)));
    }

    private static String failure(Consumer<ByteBuffer> corrupt) {
        byte[] image = TestGuest.BOOT_CHECK.image();
        corrupt.accept(ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN));
        try (GuestMemory m = ram(16 * MIB)) {
            return assertThrows(KernelImageException.class, () -> KernelLoader.load(m, image, "img", MIB)).getMessage();
        }
    }

    @Test
    void aBzImageLoadsItsProtectedModePartAtOneMibWithTheEntryAtPlus0x200() {
        byte[] image = TestGuest.BOOT_CHECK.image();
        try (GuestMemory m = ram(16 * MIB)) {
            LoadedKernel k = KernelLoader.load(m, image, "boot-check", MIB);
            SetupHeader h = k.header().orElseThrow();
            assertEquals(MIB, k.loadAddress());
            assertEquals(MIB + 0x200, k.entry64());
            assertEquals(0x020F, h.version());
            assertEquals(1024, h.setupSize());
            assertArrayEquals(java.util.Arrays.copyOfRange(image, 1024, image.length),
                    m.read(GuestAddress.of(MIB), image.length - 1024));
            assertEquals(MIB + h.initSize(), k.end(), "init_size (with bss) beyond the file");
            assertEquals(0x202 + 0x6A - 0x1F1, h.raw().length);
        }
    }

    @Test
    void malformedHeadersFailWithMessagesThatNameTheProblem() {
        assertTrue(failure(b -> b.putInt(0x202, 0)).contains("not a bzImage: no \"HdrS\""));
        assertTrue(failure(b -> b.putShort(0x1FE, (short) 0)).contains("boot_flag 0x0"));
        assertTrue(failure(b -> b.putShort(0x206, (short) 0x0209)).contains("boot protocol 2.9"));
        assertTrue(failure(b -> b.put(0x211, (byte) 0)).contains("zImage"));
        assertTrue(failure(b -> b.putShort(0x236, (short) 0)).contains("no 64-bit entry point"));
        assertTrue(failure(b -> b.put(0x1F1, (byte) 100)).contains("setup_sects 100"));
        assertTrue(failure(b -> b.put(0x201, (byte) 0)).contains("setup header ending"));
        assertTrue(failure(b -> b.putInt(0x260, 64 << 20)).contains("give the VM more memory"));
        try (GuestMemory m = ram(16 * MIB)) {
            assertTrue(assertThrows(KernelImageException.class, () -> KernelLoader.load(m, new byte[100], "tiny", MIB))
                    .getMessage().contains("too short"));
        }
    }

    /** A two-segment ELF with a Xen PVH note, as Linux's vmlinux has. */
    static byte[] elf(long entry, boolean withPvh) {
        ByteBuffer b = ByteBuffer.allocate(0x3000).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7F, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(0x10, (short) 2).putShort(0x12, (short) 62).putLong(0x18, entry).putLong(0x20, 0x40)
                .putShort(0x36, (short) 56).putShort(0x38, (short) 3);
        phdr(b, 0x40, 1, 0x1000, 0x100_0000, 0x800, 0x2000);     // text + bss
        phdr(b, 0x78, 1, 0x2000, 0x100_4000, 0x100, 0x100);
        phdr(b, 0xB0, 4, 0x200, 0, 20, 20);                       // note
        if (withPvh) {
            b.putInt(0x200, 4).putInt(0x204, 4).putInt(0x208, 18).put(0x20C, (byte) 'X').put(0x20D, (byte) 'e')
                    .put(0x20E, (byte) 'n').putInt(0x210, 0x100_0123);
        }
        for (int i = 0; i < 0x800; i++) {
            b.put(0x1000 + i, (byte) (i * 7));
        }
        return b.array();
    }

    private static void phdr(ByteBuffer b, int at, int type, long offset, long paddr, long filesz, long memsz) {
        b.putInt(at, type).putLong(at + 8, offset).putLong(at + 0x10, paddr).putLong(at + 0x18, paddr)
                .putLong(at + 0x20, filesz).putLong(at + 0x28, memsz);
    }

    @Test
    void anElfVmlinuxLoadsItsSegmentsAtTheirPhysicalAddressesAndReportsThePvhEntry() {
        try (GuestMemory m = ram(32 * MIB)) {
            m.writeByte(GuestAddress.of(0x100_0900), (byte) 0x55); // stale byte inside bss
            LoadedKernel k = KernelLoader.load(m, elf(0x100_0000, true), "vmlinux", MIB);
            assertEquals(0x100_0000, k.entry64());
            assertEquals(0x100_0000, k.loadAddress());
            assertEquals(0x100_4100, k.end());
            assertEquals(0x100_0123, k.pvhEntry().orElseThrow());
            assertTrue(k.header().isEmpty());
            assertEquals((byte) (5 * 7), m.readByte(GuestAddress.of(0x100_0005)));
            assertEquals(0, m.readByte(GuestAddress.of(0x100_0900)), "bss zeroed");
            assertTrue(KernelLoader.load(m, elf(0x100_0000, false), "vmlinux", MIB).pvhEntry().isEmpty());
        }
    }

    @Test
    void anElfWhoseEntryIsOutsideItsSegmentsIsRefused() {
        try (GuestMemory m = ram(32 * MIB)) {
            assertTrue(assertThrows(KernelImageException.class,
                    () -> KernelLoader.load(m, elf(0xFFFF_FFFF_8100_0000L, true), "vmlinux", MIB))
                    .getMessage().contains("not inside a loaded segment"));
        }
    }
}
