package io.boxlite.rootfs;

import io.boxlite.UnsupportedException;
import io.boxlite.oci.ImageException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A strict streaming reader of layer tars: ustar, POSIX pax ({@code x} and {@code g} headers,
 * {@code SCHILY.xattr.*} and {@code LIBARCHIVE.xattr.*} xattrs) and GNU ({@code L}/{@code K}
 * long names, base-256 numbers). Header checksums are verified, numbers range-checked and pax
 * records parsed by their byte lengths, so a malformed archive fails with a message naming the
 * entry instead of being half-read.
 *
 * <p>Written here rather than taken from commons-compress because that library decodes pax
 * values as UTF-8, which corrupts binary xattrs such as {@code security.capability}.
 * Sparse files and multi-volume archives are refused.
 */
final class TarReader {
    static final int BLOCK = 512;
    private static final int MAX_PAX = 1 << 20;
    private static final int MAX_LONG_NAME = 1 << 16;
    private static final long MAX_ID = 0xFFFF_FFFFL;

    private final InputStream in;
    private final String what;
    private final byte[] header = new byte[BLOCK];
    private final byte[] skipBuffer = new byte[1 << 16];
    private final Map<String, byte[]> global = new HashMap<>();
    private long remaining;
    private long padding;
    private int index;
    private String current = "";

    /**
     * @param in   the uncompressed tar
     * @param what names the archive in errors, e.g. {@code "Layer sha256:ab12… (2 of 3)"}
     */
    TarReader(InputStream in, String what) {
        this.in = Objects.requireNonNull(in, "in");
        this.what = Objects.requireNonNull(what, "what");
    }

    /** The next entry, or empty at the end of the archive; skips the rest of the previous one. */
    Optional<TarEntry> next() throws IOException {
        skipContent();
        Map<String, byte[]> pax = new LinkedHashMap<>();
        String gnuName = null;
        String gnuLink = null;
        while (true) {
            if (!readHeader()) {
                return Optional.empty();
            }
            index++;
            char flag = (char) (header[156] & 0xFF);
            long size = number(124, 12, "size");
            switch (flag) {
                case 'x' -> pax.putAll(parsePax(readMeta(size, MAX_PAX, "pax header")));
                case 'g' -> {
                    var records = parsePax(readMeta(size, MAX_PAX, "global pax header"));
                    // why: a name or size cannot sensibly apply to every later entry
                    records.keySet().removeAll(Set.of("path", "linkpath", "size"));
                    global.putAll(records);
                }
                case 'L' -> gnuName = cString(readMeta(size, MAX_LONG_NAME, "GNU long name"));
                case 'K' -> gnuLink = cString(readMeta(size, MAX_LONG_NAME, "GNU long link"));
                case 'V' -> skip(size + pad(size)); // why: a volume label describes no file
                default -> {
                    return Optional.of(entry(flag, size, pax, gnuName, gnuLink));
                }
            }
        }
    }

    /** The content of the entry last returned by {@link #next()}, limited to its size. */
    InputStream content() {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (remaining == 0) {
                    return -1;
                }
                int n = in.read(b, off, (int) Math.min(len, remaining));
                if (n < 0) {
                    throw truncated();
                }
                remaining -= n;
                return n;
            }
        };
    }

    /** Reads everything after the end-of-archive marker, so a digest over the stream completes. */
    void drain() throws IOException {
        in.transferTo(java.io.OutputStream.nullOutputStream());
    }

    private TarEntry entry(char flag, long headerSize, Map<String, byte[]> pax, String gnuName,
                           String gnuLink) throws IOException {
        Map<String, byte[]> all = new HashMap<>(global);
        all.putAll(pax);
        boolean ustar = header[257] == 'u' && header[258] == 's' && header[259] == 't'
                && header[260] == 'a' && header[261] == 'r';
        boolean posix = ustar && header[262] == 0;
        String name;
        if (all.containsKey("path")) {
            name = utf8(all.get("path"), "pax path");
        } else if (gnuName != null) {
            name = gnuName;
        } else {
            name = cString(Arrays.copyOfRange(header, 0, 100));
            String prefix = posix ? cString(Arrays.copyOfRange(header, 345, 500)) : "";
            if (!prefix.isEmpty()) {
                name = prefix + "/" + name;
            }
        }
        current = name;
        String link = all.containsKey("linkpath") ? utf8(all.get("linkpath"), "pax linkpath")
                : gnuLink != null ? gnuLink : cString(Arrays.copyOfRange(header, 157, 257));
        long size = all.containsKey("size") ? decimal(all.get("size"), "pax size") : headerSize;
        TarEntry.Type type = switch (flag) {
            case '0', '\0', '7' -> name.endsWith("/") ? TarEntry.Type.DIRECTORY
                    : TarEntry.Type.REGULAR;
            case '1' -> TarEntry.Type.HARDLINK;
            case '2' -> TarEntry.Type.SYMLINK;
            case '3' -> TarEntry.Type.CHAR_DEVICE;
            case '4' -> TarEntry.Type.BLOCK_DEVICE;
            case '5' -> TarEntry.Type.DIRECTORY;
            case '6' -> TarEntry.Type.FIFO;
            case 'S' -> throw new UnsupportedException(where() + " is a GNU sparse file, which "
                    + "layers do not use: rebuild the image without sparse files (tar --sparse)");
            case 'M', 'N' -> throw new UnsupportedException(where() + " uses GNU multi-volume or "
                    + "long-name extensions that layers do not use: rebuild the image");
            default -> throw malformed("has unknown entry type '" + printable(flag) + "'");
        };
        if (all.keySet().stream().anyMatch(k -> k.startsWith("GNU.sparse."))) {
            throw new UnsupportedException(where() + " is a pax sparse file, which layers do not "
                    + "use: rebuild the image without sparse files");
        }
        long mode = number(100, 8, "mode") & 07777;
        long uid = all.containsKey("uid") ? decimal(all.get("uid"), "pax uid") : number(108, 8, "uid");
        long gid = all.containsKey("gid") ? decimal(all.get("gid"), "pax gid") : number(116, 8, "gid");
        if (uid > MAX_ID || gid > MAX_ID) {
            throw malformed("has owner " + uid + ":" + gid + ", beyond 32 bits");
        }
        long mtime;
        int nanos = 0;
        if (all.containsKey("mtime")) {
            String text = ascii(all.get("mtime"), "pax mtime");
            int dot = text.indexOf('.');
            mtime = parseLong(dot < 0 ? text : text.substring(0, dot), "pax mtime");
            if (dot >= 0) {
                String frac = (text.substring(dot + 1) + "000000000").substring(0, 9);
                nanos = Math.toIntExact(parseLong(frac, "pax mtime"));
            }
        } else {
            mtime = number(136, 12, "mtime");
        }
        long major = 0;
        long minor = 0;
        if (type.isDevice()) {
            major = number(329, 8, "devmajor");
            minor = number(337, 8, "devminor");
            if (major > 0xFFF || minor > 0xFFFFF) {
                throw malformed("has device " + major + ":" + minor
                        + ", beyond Linux's 12-bit major and 20-bit minor numbers");
            }
        }
        remaining = size;
        padding = pad(size);
        return new TarEntry(name, type, (int) mode, uid, gid, size, mtime, nanos, link, major,
                minor, xattrs(all));
    }

    private Map<String, byte[]> xattrs(Map<String, byte[]> pax) {
        var xattrs = new LinkedHashMap<String, byte[]>();
        for (var e : pax.entrySet()) {
            String key = e.getKey();
            if (key.startsWith("SCHILY.xattr.")) {
                xattrs.put(key.substring("SCHILY.xattr.".length()), e.getValue());
            } else if (key.startsWith("LIBARCHIVE.xattr.")) {
                // why: libarchive URL-encodes the name and base64-encodes the value
                String xname = URLDecoder.decode(key.substring("LIBARCHIVE.xattr.".length()),
                        StandardCharsets.UTF_8);
                try {
                    xattrs.put(xname, Base64.getDecoder().decode(
                            ascii(e.getValue(), "LIBARCHIVE xattr").replace("=", "")
                                    .getBytes(StandardCharsets.US_ASCII)));
                } catch (IllegalArgumentException bad) {
                    throw malformed("has a LIBARCHIVE xattr " + xname + " that is not base64");
                }
            }
        }
        for (String name : xattrs.keySet()) {
            if (name.isEmpty() || name.length() > 255) {
                throw malformed("has an xattr with an empty or over-long name");
            }
        }
        return xattrs;
    }

    private boolean readHeader() throws IOException {
        int n = in.readNBytes(header, 0, BLOCK);
        if (n == 0) {
            return false; // why: some writers omit the end-of-archive blocks
        }
        if (n < BLOCK) {
            throw truncated();
        }
        boolean zero = true;
        for (byte b : header) {
            if (b != 0) {
                zero = false;
                break;
            }
        }
        if (zero) {
            return false;
        }
        long stored = number(148, 8, "checksum");
        long unsigned = 0;
        long signed = 0;
        for (int i = 0; i < BLOCK; i++) {
            int b = i >= 148 && i < 156 ? ' ' : header[i];
            unsigned += b & 0xFF;
            signed += b;
        }
        if (stored != unsigned && stored != signed) {
            throw new ImageException(what + ": the header of entry " + (index + 1)
                    + " (after '" + current + "') has a bad checksum: the layer is not a tar "
                    + "or is corrupt");
        }
        return true;
    }

    private byte[] readMeta(long size, int max, String kind) throws IOException {
        if (size > max) {
            throw malformed("has a " + kind + " of " + size + " bytes (at most " + max + ")");
        }
        byte[] data = in.readNBytes((int) size);
        if (data.length < size) {
            throw truncated();
        }
        skip(pad(size));
        return data;
    }

    private Map<String, byte[]> parsePax(byte[] data) {
        var records = new LinkedHashMap<String, byte[]>();
        int pos = 0;
        while (pos < data.length) {
            int space = pos;
            while (space < data.length && data[space] != ' ') {
                space++;
            }
            long length = space == pos || space - pos > 7 ? -1
                    : parseLong(new String(data, pos, space - pos, StandardCharsets.US_ASCII),
                            "pax record length");
            if (length <= space - pos + 1 || pos + length > data.length
                    || data[(int) (pos + length - 1)] != '\n') {
                throw malformed("has a malformed pax record at byte " + pos);
            }
            int end = (int) (pos + length - 1);
            int eq = space + 1;
            while (eq < end && data[eq] != '=') {
                eq++;
            }
            if (eq == end || eq == space + 1) {
                throw malformed("has a pax record without a key at byte " + pos);
            }
            String key = utf8(Arrays.copyOfRange(data, space + 1, eq), "pax key");
            records.put(key, Arrays.copyOfRange(data, eq + 1, end));
            pos = end + 1;
        }
        return records;
    }

    private long number(int offset, int length, String field) {
        if ((header[offset] & 0x80) != 0) {
            // why: GNU base-256 for values beyond the octal field; 0xFF marks a negative value
            if ((header[offset] & 0xFF) == 0xFF) {
                throw malformed("has a negative " + field);
            }
            long value = header[offset] & 0x7F;
            for (int i = 1; i < length; i++) {
                if (value > (Long.MAX_VALUE >> 8)) {
                    throw malformed("has a " + field + " that does not fit in 63 bits");
                }
                value = (value << 8) | (header[offset + i] & 0xFF);
            }
            return value;
        }
        int i = offset;
        int end = offset + length;
        while (i < end && (header[i] == ' ' || header[i] == 0)) {
            i++;
        }
        long value = 0;
        int digits = 0;
        while (i < end && header[i] >= '0' && header[i] <= '7') {
            value = value * 8 + (header[i] - '0');
            i++;
            digits++;
        }
        while (i < end) {
            if (header[i] != ' ' && header[i] != 0) {
                throw malformed("has a malformed " + field + " field");
            }
            i++;
        }
        if (digits > 21) {
            throw malformed("has an over-long " + field + " field");
        }
        return value;
    }

    private long decimal(byte[] value, String field) {
        long parsed = parseLong(ascii(value, field), field);
        if (parsed < 0) {
            throw malformed("has a negative " + field);
        }
        return parsed;
    }

    private long parseLong(String text, String field) {
        if (!text.matches("-?[0-9]{1,19}")) {
            throw malformed("has a malformed " + field + " '" + printable(text) + "'");
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw malformed("has an out-of-range " + field);
        }
    }

    private String ascii(byte[] value, String field) {
        for (byte b : value) {
            if (b < 0x20 || b > 0x7E) {
                throw malformed("has a non-ASCII " + field);
            }
        }
        return new String(value, StandardCharsets.US_ASCII);
    }

    private String utf8(byte[] value, String field) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(value)).toString();
        } catch (CharacterCodingException e) {
            throw malformed("has a " + field + " that is not UTF-8");
        }
    }

    private String cString(byte[] field) {
        int end = 0;
        while (end < field.length && field[end] != 0) {
            end++;
        }
        return utf8(Arrays.copyOf(field, end), "name");
    }

    private void skipContent() throws IOException {
        skip(remaining + padding);
        remaining = 0;
        padding = 0;
    }

    private void skip(long count) throws IOException {
        // why: read, never InputStream.skip, so that a DigestInputStream below sees every byte
        long left = count;
        while (left > 0) {
            int n = in.read(skipBuffer, 0, (int) Math.min(skipBuffer.length, left));
            if (n < 0) {
                throw truncated();
            }
            left -= n;
        }
    }

    private static long pad(long size) {
        return (BLOCK - size % BLOCK) % BLOCK;
    }

    private String where() {
        return what + ", entry '" + printable(current) + "'";
    }

    private ImageException malformed(String problem) {
        return new ImageException(what + ", entry " + index + " ('" + printable(current) + "') "
                + problem + ": the layer is malformed");
    }

    private ImageException truncated() {
        return new ImageException(what + " ends in the middle of entry '" + printable(current)
                + "': the layer is truncated or corrupt");
    }

    /** {@code text} with control characters escaped, for error messages. */
    static String printable(Object text) {
        var sb = new StringBuilder();
        String s = String.valueOf(text);
        for (int i = 0; i < s.length() && sb.length() < 300; i++) {
            char c = s.charAt(i);
            sb.append(c < 0x20 || c == 0x7F ? String.format("\\x%02x", (int) c) : String.valueOf(c));
        }
        return sb.toString();
    }
}
