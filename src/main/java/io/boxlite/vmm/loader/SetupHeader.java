package io.boxlite.vmm.loader;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The Linux x86 boot protocol's setup header of a bzImage (file offset 0x1F1), parsed and
 * validated for the 64-bit boot protocol. Field offsets are the same in the zero page.
 *
 * @param raw the header bytes from 0x1F1 to its end (0x202 + the byte at 0x201), copied into
 *            the zero page as they are
 */
public record SetupHeader(byte[] raw, int setupSects, int version, int loadflags, long code32Start,
                          long initrdAddrMax, long kernelAlignment, boolean relocatable, int xloadflags,
                          long cmdlineSize, long prefAddress, long initSize) {
    public static final int OFFSET = 0x1F1;
    public static final int HDRS = 0x5372_6448; // "HdrS"
    public static final int BOOT_FLAG = 0xAA55;
    public static final int LOADED_HIGH = 0x01;
    public static final int XLF_KERNEL_64 = 0x01;
    /** 2.12: the first version with xloadflags, which tells whether the 64-bit entry exists. */
    public static final int MIN_VERSION = 0x020C;
    /** Last byte offset of the fields we read (init_size ends at 0x264). */
    private static final int PARSED_END = 0x264;

    public SetupHeader {
        raw = raw.clone();
    }

    @Override
    public byte[] raw() {
        return raw.clone();
    }

    /** Bytes of real-mode setup code before the protected-mode kernel: (setup_sects + 1) × 512. */
    public long setupSize() {
        return (long) ((setupSects == 0 ? 4 : setupSects) + 1) * 512;
    }

    /** Parses and validates the header of {@code image}, named {@code name} in errors. */
    public static SetupHeader parse(byte[] image, String name) {
        if (image.length < PARSED_END) {
            throw new KernelImageException(name + " is " + image.length + " bytes: too short to be a bzImage "
                    + "(its setup header ends at 0x" + Integer.toHexString(PARSED_END) + ")");
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int header = b.getInt(0x202);
        if (header != HDRS) {
            throw new KernelImageException(name + " is not a bzImage: no \"HdrS\" magic at offset 0x202 (found 0x"
                    + Integer.toHexString(header) + "); pass a Linux bzImage (vmlinuz) or an ELF vmlinux");
        }
        int bootFlag = Short.toUnsignedInt(b.getShort(0x1FE));
        if (bootFlag != BOOT_FLAG) {
            throw new KernelImageException(name + " has boot_flag 0x" + Integer.toHexString(bootFlag)
                    + " at 0x1FE, not 0xAA55: the image is damaged");
        }
        int version = Short.toUnsignedInt(b.getShort(0x206));
        if (version < MIN_VERSION) {
            throw new KernelImageException(name + " speaks boot protocol " + (version >> 8) + "." + (version & 0xFF)
                    + "; the 64-bit entry needs 2.12 or later (Linux 3.8+)");
        }
        int loadflags = Byte.toUnsignedInt(b.get(0x211));
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new KernelImageException(name + " is a zImage (loadflags lacks LOADED_HIGH): only bzImages "
                    + "load at 1 MiB");
        }
        int xloadflags = Short.toUnsignedInt(b.getShort(0x236));
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new KernelImageException(name + " has no 64-bit entry point (xloadflags lacks XLF_KERNEL_64): "
                    + "boot a 64-bit x86_64 kernel");
        }
        int end = 0x202 + Byte.toUnsignedInt(b.get(0x201));
        if (end < PARSED_END || end > image.length || end > 0x1000) {
            throw new KernelImageException(name + " has a setup header ending at 0x" + Integer.toHexString(end)
                    + " (from the jump at 0x200), outside 0x" + Integer.toHexString(PARSED_END) + "–the file");
        }
        SetupHeader h = new SetupHeader(Arrays.copyOfRange(image, OFFSET, end), Byte.toUnsignedInt(b.get(0x1F1)),
                version, loadflags, Integer.toUnsignedLong(b.getInt(0x214)), Integer.toUnsignedLong(b.getInt(0x22C)),
                Integer.toUnsignedLong(b.getInt(0x230)), b.get(0x234) != 0, xloadflags,
                Integer.toUnsignedLong(b.getInt(0x238)), b.getLong(0x258), Integer.toUnsignedLong(b.getInt(0x260)));
        if (h.setupSize() >= image.length) {
            throw new KernelImageException(name + " declares " + h.setupSize() + " bytes of setup code "
                    + "(setup_sects " + h.setupSects() + ") but is only " + image.length + " bytes long");
        }
        return h;
    }
}
