package io.boxlite.rootfs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * Writes tar archives byte by byte, so tests can craft any entry a hostile layer might hold
 * ({@code ..} names, links out of the tree, binary pax xattrs, bad checksums) that a
 * well-behaved tar writer would refuse to produce.
 */
final class RawTar {
    static final long MTIME = 1_700_000_000L;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private Map<String, byte[]> pendingPax = new LinkedHashMap<>();

    RawTar dir(String name) {
        return dir(name, 0755, 0, 0);
    }

    RawTar dir(String name, int mode, long uid, long gid) {
        return entry(name, '5', mode, uid, gid, new byte[0], "", 0, 0);
    }

    RawTar file(String name, String content) {
        return file(name, 0644, 0, 0, content.getBytes(StandardCharsets.UTF_8));
    }

    RawTar file(String name, int mode, long uid, long gid, byte[] content) {
        return entry(name, '0', mode, uid, gid, content, "", 0, 0);
    }

    RawTar symlink(String name, String target) {
        return entry(name, '2', 0777, 0, 0, new byte[0], target, 0, 0);
    }

    RawTar hardlink(String name, String target) {
        return entry(name, '1', 0644, 0, 0, new byte[0], target, 0, 0);
    }

    RawTar device(String name, char type, int mode, long uid, long gid, int major, int minor) {
        return entry(name, type, mode, uid, gid, new byte[0], "", major, minor);
    }

    RawTar fifo(String name, int mode) {
        return entry(name, '6', mode, 0, 0, new byte[0], "", 0, 0);
    }

    /** Adds a pax record to the next entry (values are raw bytes, as SCHILY.xattr allows). */
    RawTar pax(String key, byte[] value) {
        pendingPax.put(key, value);
        return this;
    }

    RawTar xattr(String name, byte[] value) {
        return pax("SCHILY.xattr." + name, value);
    }

    RawTar entry(String name, char type, int mode, long uid, long gid, byte[] content,
                 String link, int major, int minor) {
        if (uid > 07777777 || gid > 07777777) {
            // why: as real writers do, ids beyond the octal field go into pax records
            pendingPax.put("uid", Long.toString(uid).getBytes(StandardCharsets.US_ASCII));
            pendingPax.put("gid", Long.toString(gid).getBytes(StandardCharsets.US_ASCII));
            uid = 0;
            gid = 0;
        }
        if (!pendingPax.isEmpty()) {
            byte[] records = paxRecords(pendingPax);
            pendingPax = new LinkedHashMap<>();
            writeHeader("PaxHeaders/x", 'x', 0644, 0, 0, records.length, "", 0, 0, false);
            writeData(records);
        }
        writeHeader(name, type, mode, uid, gid, content.length, link, major, minor, false);
        writeData(content);
        return this;
    }

    /** An entry whose header checksum is wrong. */
    RawTar corruptHeader(String name) {
        writeHeader(name, '0', 0644, 0, 0, 0, "", 0, 0, true);
        return this;
    }

    byte[] tar() {
        var copy = new ByteArrayOutputStream();
        copy.writeBytes(out.toByteArray());
        copy.writeBytes(new byte[1024]);
        return copy.toByteArray();
    }

    /** The tar without its end-of-archive blocks, cut after {@code keep} bytes. */
    byte[] truncated(int keep) {
        byte[] all = out.toByteArray();
        return java.util.Arrays.copyOf(all, Math.min(keep, all.length));
    }

    byte[] gzip() {
        var buffer = new ByteArrayOutputStream();
        try (var gz = new GZIPOutputStream(buffer)) {
            gz.write(tar());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buffer.toByteArray();
    }

    private void writeHeader(String name, char type, int mode, long uid, long gid, long size,
                             String link, int major, int minor, boolean badChecksum) {
        byte[] h = new byte[512];
        put(h, 0, 100, name.getBytes(StandardCharsets.UTF_8));
        octal(h, 100, 8, mode);
        octal(h, 108, 8, uid);
        octal(h, 116, 8, gid);
        octal(h, 124, 12, size);
        octal(h, 136, 12, MTIME);
        h[156] = (byte) type;
        put(h, 157, 100, link.getBytes(StandardCharsets.UTF_8));
        put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
        put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
        put(h, 265, 32, "root".getBytes(StandardCharsets.US_ASCII));
        put(h, 297, 32, "root".getBytes(StandardCharsets.US_ASCII));
        octal(h, 329, 8, major);
        octal(h, 337, 8, minor);
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xFF;
        }
        if (badChecksum) {
            sum += 1;
        }
        String chk = String.format("%06o", sum);
        put(h, 148, 6, chk.getBytes(StandardCharsets.US_ASCII));
        h[154] = 0;
        h[155] = ' ';
        out.writeBytes(h);
    }

    private void writeData(byte[] data) {
        out.writeBytes(data);
        int pad = (512 - data.length % 512) % 512;
        out.writeBytes(new byte[pad]);
    }

    private static byte[] paxRecords(Map<String, byte[]> records) {
        var buffer = new ByteArrayOutputStream();
        for (var e : records.entrySet()) {
            byte[] key = e.getKey().getBytes(StandardCharsets.UTF_8);
            int body = 1 + key.length + 1 + e.getValue().length + 1; // " key=value\n"
            int len = body + 1;
            while (Integer.toString(len).length() + body != len) {
                len++;
            }
            buffer.writeBytes(Integer.toString(len).getBytes(StandardCharsets.US_ASCII));
            buffer.write(' ');
            buffer.writeBytes(key);
            buffer.write('=');
            buffer.writeBytes(e.getValue());
            buffer.write('\n');
        }
        return buffer.toByteArray();
    }

    private static void put(byte[] h, int offset, int length, byte[] value) {
        if (value.length > length) {
            throw new IllegalArgumentException("field too long: " + new String(value,
                    StandardCharsets.UTF_8));
        }
        System.arraycopy(value, 0, h, offset, value.length);
    }

    private static void octal(byte[] h, int offset, int length, long value) {
        String text = String.format("%0" + (length - 1) + "o", value);
        put(h, offset, length - 1, text.getBytes(StandardCharsets.US_ASCII));
        h[offset + length - 1] = 0;
    }
}
