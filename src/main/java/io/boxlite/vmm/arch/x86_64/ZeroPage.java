package io.boxlite.vmm.arch.x86_64;

import io.boxlite.vmm.loader.SetupHeader;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Optional;

/**
 * The zero page ({@code struct boot_params}, 4 KiB at {@link Layout#ZERO_PAGE_START}): the
 * kernel's own setup header, with what a boot loader fills in, the e820 map and the RSDP address.
 */
public final class ZeroPage {
    private ZeroPage() {
    }

    public static final int SIZE = 4096;
    static final int ACPI_RSDP_ADDR = 0x070;
    static final int EXT_RAMDISK_IMAGE = 0x0C0;
    static final int EXT_RAMDISK_SIZE = 0x0C4;
    static final int EXT_CMD_LINE_PTR = 0x0C8;
    static final int E820_ENTRIES = 0x1E8;
    static final int HDR = 0x1F1;
    static final int BOOT_FLAG = 0x1FE;
    static final int HEADER = 0x202;
    static final int TYPE_OF_LOADER = 0x210;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21C;
    static final int CMD_LINE_PTR = 0x228;
    static final int CMDLINE_SIZE = 0x238;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int E820_TABLE = 0x2D0;
    /** "Undefined" boot loader: no registered loader ID. */
    static final int LOADER_UNDEFINED = 0xFF;

    /** An initrd placed in guest memory. */
    public record Initrd(long address, long size) {
    }

    /**
     * Builds the page. {@code header} is the bzImage's (empty for an ELF kernel, which gets a
     * zeroed header with 16 MiB alignment, as Firecracker does).
     */
    public static byte[] build(Optional<SetupHeader> header, long cmdlineAddress, int cmdlineSizeWithNul,
                               Optional<Initrd> initrd, List<E820.Entry> e820, long rsdpAddress) {
        if (e820.size() > E820.MAX_ENTRIES) {
            throw new IllegalArgumentException("e820 map has " + e820.size() + " entries; at most " + E820.MAX_ENTRIES);
        }
        byte[] page = new byte[SIZE];
        ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
        header.ifPresentOrElse(h -> b.put(HDR, h.raw()), () -> b.putInt(KERNEL_ALIGNMENT, 0x100_0000));
        b.putShort(BOOT_FLAG, (short) SetupHeader.BOOT_FLAG);
        b.putInt(HEADER, SetupHeader.HDRS);
        b.put(TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        b.putInt(CMD_LINE_PTR, (int) cmdlineAddress);
        b.putInt(EXT_CMD_LINE_PTR, (int) (cmdlineAddress >>> 32));
        b.putInt(CMDLINE_SIZE, cmdlineSizeWithNul);
        initrd.ifPresent(i -> {
            b.putInt(RAMDISK_IMAGE, (int) i.address());
            b.putInt(EXT_RAMDISK_IMAGE, (int) (i.address() >>> 32));
            b.putInt(RAMDISK_SIZE, (int) i.size());
            b.putInt(EXT_RAMDISK_SIZE, (int) (i.size() >>> 32));
        });
        b.putLong(ACPI_RSDP_ADDR, rsdpAddress);
        b.put(E820_ENTRIES, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            E820.Entry e = e820.get(i);
            int at = E820_TABLE + i * 20;
            b.putLong(at, e.address());
            b.putLong(at + 8, e.size());
            b.putInt(at + 16, e.type());
        }
        return page;
    }

    public static void write(GuestMemory memory, byte[] page) {
        memory.write(GuestAddress.of(Layout.ZERO_PAGE_START), page);
    }
}
