package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * mmap(2) for guest RAM and shared regions. Each mapping is tied to an arena: closing the arena
 * unmaps it, so one arena per VM owns every mapping of that VM.
 */
public final class MemoryMapping {
    private MemoryMapping() {
    }

    /**
     * Private anonymous read-write memory of {@code size} bytes (a multiple of the page size),
     * reserved lazily (MAP_NORESERVE): pages cost nothing until touched.
     */
    public static MemorySegment anonymous(long size, Arena owner) {
        return map(size, BoxliteSys.MAP_PRIVATE() | BoxliteSys.MAP_ANONYMOUS() | BoxliteSys.MAP_NORESERVE(),
                -1, 0, "mmap(anonymous, " + size + " bytes)", owner);
    }

    /** A shared read-write mapping of {@code size} bytes of {@code fd} from {@code offset}. */
    public static MemorySegment shared(int fd, long offset, long size, Arena owner) {
        return map(size, BoxliteSys.MAP_SHARED(), fd, offset,
                "mmap(fd " + fd + ", offset " + offset + ", " + size + " bytes)", owner);
    }

    private static MemorySegment map(long size, int flags, int fd, long offset, String op, Arena owner) {
        long page = BoxliteSys.getpagesize();
        if (size <= 0 || size % page != 0) {
            throw new IllegalArgumentException("mapping size must be a positive multiple of " + page + ": " + size);
        }
        MemorySegment addr = Libc.mmap(MemorySegment.NULL, size,
                BoxliteSys.PROT_READ() | BoxliteSys.PROT_WRITE(), flags, fd, offset);
        if (addr.address() == BoxliteSys.MAP_FAILED().address()) {
            throw new NativeException(op, Libc.errno());
        }
        // SAFETY: mmap returned exactly `size` readable and writable bytes at addr, which stay
        // mapped until the owner arena closes and the cleanup unmaps them.
        return addr.reinterpret(size, owner, s -> unmap(s.address(), size));
    }

    private static void unmap(long address, long size) {
        if (Libc.munmap(MemorySegment.ofAddress(address), size) < 0) {
            System.getLogger(MemoryMapping.class.getName()).log(System.Logger.Level.WARNING,
                    "munmap({0}, {1}) failed: {2}", Long.toHexString(address), size, Libc.errnoText(Libc.errno()));
        }
    }

    /** A memfd of {@code size} bytes, close-on-exec: guest RAM another process (QEMU) can map. */
    public static Fd memfd(String name, long size) {
        try (Arena arena = Arena.ofConfined()) {
            Fd fd = Fd.adopt(Libc.check("memfd_create(" + name + ")",
                    Libc.memfdCreate(arena.allocateFrom(name), BoxliteSys.MFD_CLOEXEC())));
            if (Libc.ftruncate(fd.value(), size) < 0) {
                int errno = Libc.errno();
                fd.close();
                throw new NativeException("ftruncate(memfd " + name + ", " + size + ")", errno);
            }
            return fd;
        }
    }

    /** madvise(MADV_DONTNEED) over a range: gives its pages back, reading zeros afterwards. */
    public static void discard(MemorySegment range) {
        Libc.check("madvise(MADV_DONTNEED)", Libc.madvise(range, range.byteSize(), BoxliteSys.MADV_DONTNEED()));
    }
}
