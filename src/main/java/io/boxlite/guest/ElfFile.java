package io.boxlite.guest;

import io.boxlite.UnsupportedException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What the dynamic loader needs to run an ELF64 little-endian program or library: its
 * interpreter ({@code PT_INTERP}) and the libraries it names ({@code DT_NEEDED}), read from the
 * file's program headers and dynamic section.
 *
 * @param interpreter the loader a program asks for, e.g. {@code /lib64/ld-linux-x86-64.so.2};
 *                    empty for libraries and static programs
 * @param needed      the {@code DT_NEEDED} names in file order; empty for static programs
 */
public record ElfFile(Optional<String> interpreter, List<String> needed) {
    private static final int PT_LOAD = 1;
    private static final int PT_DYNAMIC = 2;
    private static final int PT_INTERP = 3;
    private static final long DT_NULL = 0;
    private static final long DT_NEEDED = 1;
    private static final long DT_STRTAB = 5;
    private static final int PHDR_SIZE = 56;
    private static final int DYN_SIZE = 16;

    public ElfFile {
        needed = List.copyOf(needed);
    }

    private record Segment(int type, long offset, long vaddr, long fileSize) {
    }

    /**
     * Parses {@code bytes}, the whole file.
     *
     * @param what names the file in errors
     * @throws UnsupportedException if it is not a well-formed ELF64 little-endian file
     */
    public static ElfFile parse(byte[] bytes, String what) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 64 || b.getInt(0) != 0x464C457F) {
            throw bad(what, "it is not an ELF file");
        }
        if (bytes[4] != 2 || bytes[5] != 1) {
            throw bad(what, "it is not a 64-bit little-endian ELF file");
        }
        List<Segment> segments = segments(b, what);
        Optional<String> interp = segments.stream().filter(s -> s.type() == PT_INTERP).findFirst()
                .map(s -> cString(b, checked(b, s.offset(), s.fileSize(), what), what));
        Optional<Segment> dynamic = segments.stream().filter(s -> s.type() == PT_DYNAMIC).findFirst();
        if (dynamic.isEmpty()) {
            return new ElfFile(interp, List.of());
        }
        return new ElfFile(interp, needed(b, dynamic.get(), segments, what));
    }

    private static List<Segment> segments(ByteBuffer b, String what) {
        long phoff = b.getLong(0x20);
        int phentsize = Short.toUnsignedInt(b.getShort(0x36));
        int phnum = Short.toUnsignedInt(b.getShort(0x38));
        if (phnum > 0 && phentsize < PHDR_SIZE) {
            throw bad(what, "its program headers are " + phentsize + " bytes each");
        }
        checked(b, phoff, (long) phentsize * phnum, what);
        List<Segment> segments = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int at = Math.toIntExact(phoff + (long) i * phentsize);
            segments.add(new Segment(b.getInt(at), b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 32)));
        }
        return segments;
    }

    private static List<String> needed(ByteBuffer b, Segment dynamic, List<Segment> segments, String what) {
        int start = checked(b, dynamic.offset(), dynamic.fileSize(), what);
        long count = dynamic.fileSize() / DYN_SIZE;
        List<Long> names = new ArrayList<>();
        long strtab = -1;
        for (long i = 0; i < count; i++) {
            int at = Math.toIntExact(start + i * DYN_SIZE);
            long tag = b.getLong(at);
            long value = b.getLong(at + 8);
            if (tag == DT_NULL) {
                break;
            } else if (tag == DT_NEEDED) {
                names.add(value);
            } else if (tag == DT_STRTAB) {
                strtab = value;
            }
        }
        if (names.isEmpty()) {
            return List.of();
        }
        if (strtab < 0) {
            throw bad(what, "it names libraries but has no string table (DT_STRTAB)");
        }
        long table = fileOffset(strtab, segments, what);
        List<String> needed = new ArrayList<>();
        for (long name : names) {
            needed.add(cString(b, checked(b, table + name, 1, what), what));
        }
        return needed;
    }

    /** The file offset of a virtual address, through the loadable segment that maps it. */
    private static long fileOffset(long vaddr, List<Segment> segments, String what) {
        for (Segment s : segments) {
            if (s.type() == PT_LOAD && Long.compareUnsigned(vaddr, s.vaddr()) >= 0
                    && Long.compareUnsigned(vaddr - s.vaddr(), s.fileSize()) < 0) {
                return s.offset() + (vaddr - s.vaddr());
            }
        }
        throw bad(what, "its string table at 0x" + Long.toHexString(vaddr) + " is in no loadable segment");
    }

    /** {@code offset} as an int after checking that {@code length} bytes from it are in the file. */
    private static int checked(ByteBuffer b, long offset, long length, String what) {
        if (offset < 0 || length < 0 || offset > b.capacity() || length > b.capacity() - offset) {
            throw bad(what, "a table at offset " + offset + " (" + length + " bytes) lies outside the "
                    + b.capacity() + "-byte file");
        }
        return Math.toIntExact(offset);
    }

    private static String cString(ByteBuffer b, int offset, String what) {
        int end = offset;
        while (end < b.capacity() && b.get(end) != 0) {
            end++;
        }
        if (end == b.capacity()) {
            throw bad(what, "a string at offset " + offset + " is not terminated");
        }
        byte[] s = new byte[end - offset];
        b.get(offset, s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static UnsupportedException bad(String what, String why) {
        return new UnsupportedException(what + " cannot be read as a program for the guest: " + why);
    }
}
