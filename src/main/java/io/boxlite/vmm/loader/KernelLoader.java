package io.boxlite.vmm.loader;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Loads an x86_64 Linux kernel into guest memory for the 64-bit boot protocol: a bzImage
 * (the setup header is parsed and validated; the protected-mode part goes to 1 MiB and the
 * entry is load + 0x200), or an uncompressed ELF {@code vmlinux} (PT_LOAD segments at their
 * physical addresses, entry {@code e_entry}, plus the PVH entry of its Xen note if present).
 *
 * {@snippet :
 * LoadedKernel k = KernelLoader.load(memory, Files.readAllBytes(vmlinuz), "vmlinuz", 0x10_0000);
 * long rip = k.entry64();
 * }
 */
public final class KernelLoader {
    private KernelLoader() {
    }

    /** Offset of the 64-bit entry ({@code startup_64}) from the start of the protected-mode kernel. */
    public static final long ENTRY_64_OFFSET = 0x200;
    private static final int PT_LOAD = 1;
    private static final int PT_NOTE = 4;
    private static final int EM_X86_64 = 62;
    private static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;

    /** Loads {@code image} (named {@code name} in errors); a bzImage goes to {@code himemStart}. */
    public static LoadedKernel load(GuestMemory memory, byte[] image, String name, long himemStart) {
        if (image.length >= 4 && image[0] == 0x7F && image[1] == 'E' && image[2] == 'L' && image[3] == 'F') {
            return loadElf(memory, image, name, himemStart);
        }
        return loadBzImage(memory, image, name, himemStart);
    }

    static LoadedKernel loadBzImage(GuestMemory memory, byte[] image, String name, long himemStart) {
        SetupHeader h = SetupHeader.parse(image, name);
        long load = h.relocatable() ? himemStart : h.prefAddress();
        if (load < himemStart) {
            throw new KernelImageException(name + " must load at 0x" + Long.toHexString(load)
                    + ", below 1 MiB, where boot structures live");
        }
        int payload = Math.toIntExact(image.length - h.setupSize());
        // The decompressor runs from max(pref_address, load rounded up to kernel_alignment) and
        // needs init_size bytes there (arch/x86/boot/compressed/head_64.S).
        long alignment = Math.max(h.kernelAlignment(), 1);
        long runAt = h.relocatable() ? Math.max(h.prefAddress(), (load + alignment - 1) / alignment * alignment) : load;
        long end = Math.max(load + payload, runAt + h.initSize());
        requireRam(memory, load, end, name, "including init_size " + h.initSize() + " at 0x" + Long.toHexString(runAt));
        memory.write(GuestAddress.of(load), java.util.Arrays.copyOfRange(image, Math.toIntExact(h.setupSize()),
                image.length));
        return new LoadedKernel(load, end, load + ENTRY_64_OFFSET, Optional.of(h), OptionalLong.empty());
    }

    static LoadedKernel loadElf(GuestMemory memory, byte[] image, String name, long himemStart) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (image.length < 64 || image[4] != 2 || image[5] != 1) {
            throw new KernelImageException(name + " is an ELF file but not 64-bit little-endian");
        }
        if (Short.toUnsignedInt(b.getShort(0x12)) != EM_X86_64) {
            throw new KernelImageException(name + " is an ELF file for machine " + Short.toUnsignedInt(b.getShort(0x12))
                    + ", not x86_64 (62)");
        }
        long entry = b.getLong(0x18);
        long phoff = b.getLong(0x20);
        int phentsize = Short.toUnsignedInt(b.getShort(0x36));
        int phnum = Short.toUnsignedInt(b.getShort(0x38));
        if (phentsize < 56 || phoff < 0 || phnum == 0 || phoff + (long) phentsize * phnum > image.length) {
            throw new KernelImageException(name + ": ELF program headers lie outside the file or are malformed");
        }
        long low = Long.MAX_VALUE;
        long high = 0;
        boolean entryLoaded = false;
        OptionalLong pvh = OptionalLong.empty();
        for (int i = 0; i < phnum; i++) {
            int ph = Math.toIntExact(phoff + (long) i * phentsize);
            int type = b.getInt(ph);
            long offset = b.getLong(ph + 0x08);
            long paddr = b.getLong(ph + 0x18);
            long filesz = b.getLong(ph + 0x20);
            long memsz = b.getLong(ph + 0x28);
            if (offset < 0 || filesz < 0 || offset + filesz > image.length || filesz > memsz && type == PT_LOAD) {
                throw new KernelImageException(name + ": ELF segment " + i + " lies outside the file");
            }
            if (type == PT_LOAD) {
                if (paddr < himemStart) {
                    throw new KernelImageException(name + ": ELF segment " + i + " loads at 0x" + Long.toHexString(paddr)
                            + ", below 1 MiB, where boot structures live");
                }
                requireRam(memory, paddr, paddr + memsz, name, "ELF segment " + i);
                memory.write(GuestAddress.of(paddr), java.util.Arrays.copyOfRange(image, Math.toIntExact(offset),
                        Math.toIntExact(offset + filesz)));
                memory.slice(GuestAddress.of(paddr + filesz), memsz - filesz).fill((byte) 0);
                low = Math.min(low, paddr);
                high = Math.max(high, paddr + memsz);
                entryLoaded |= entry >= paddr && entry < paddr + memsz;
            } else if (type == PT_NOTE) {
                pvh = pvh.isPresent() ? pvh : pvhEntry(b, Math.toIntExact(offset), Math.toIntExact(filesz));
            }
        }
        if (!entryLoaded) {
            throw new KernelImageException(name + ": the ELF entry point 0x" + Long.toHexString(entry)
                    + " is not inside a loaded segment (is this a vmlinux with physical addresses?)");
        }
        return new LoadedKernel(low, high, entry, Optional.empty(), pvh);
    }

    private static OptionalLong pvhEntry(ByteBuffer b, int offset, int size) {
        int p = offset;
        int end = offset + size;
        while (p + 12 <= end) {
            long namesz = Integer.toUnsignedLong(b.getInt(p));
            long descsz = Integer.toUnsignedLong(b.getInt(p + 4));
            int type = b.getInt(p + 8);
            long name = p + 12L;
            long desc = name + align4(namesz);
            long next = desc + align4(descsz);
            if (next > end) {
                break;
            }
            boolean xen = namesz == 4 && b.get((int) name) == 'X' && b.get((int) name + 1) == 'e'
                    && b.get((int) name + 2) == 'n' && b.get((int) name + 3) == 0;
            if (xen && type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
                return OptionalLong.of(descsz >= 8 ? b.getLong((int) desc) : Integer.toUnsignedLong(b.getInt((int) desc)));
            }
            p = Math.toIntExact(next);
        }
        return OptionalLong.empty();
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }

    private static void requireRam(GuestMemory memory, long start, long end, String name, String what) {
        if (!memory.isValid(GuestAddress.of(start), end - start)) {
            throw new KernelImageException(name + " needs guest RAM 0x" + Long.toHexString(start) + "–0x"
                    + Long.toHexString(end) + " (" + what + "); give the VM more memory (at least "
                    + ((end + (1 << 20) - 1) >> 20) + " MiB of low RAM)");
        }
    }
}
