package io.boxlite.guest;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * Writes a cpio archive in the "newc" format the Linux kernel unpacks as an initramfs.
 * Entries are written in call order; parents must be added before their children, because the
 * kernel creates each entry as it reads it.
 */
public final class CpioWriter implements AutoCloseable {
    private static final int MODE_DIR = 0040000;
    private static final int MODE_FILE = 0100000;
    private static final int MODE_SYMLINK = 0120000;

    private final OutputStream out;
    private final Set<String> names = new HashSet<>();
    private long written;
    private int nextInode = 1;
    private boolean finished;

    public CpioWriter(OutputStream out) {
        this.out = out;
    }

    public void directory(String path, int permissions) throws IOException {
        entry(path, MODE_DIR | (permissions & 07777), new byte[0]);
    }

    public void file(String path, int permissions, byte[] content) throws IOException {
        entry(path, MODE_FILE | (permissions & 07777), content);
    }

    public void symlink(String path, String target) throws IOException {
        entry(path, MODE_SYMLINK | 0777, target.getBytes(StandardCharsets.UTF_8));
    }

    private void entry(String path, int mode, byte[] data) throws IOException {
        String name = normalize(path);
        if (!names.add(name)) {
            throw new IllegalArgumentException("duplicate initramfs entry: " + name);
        }
        int slash = name.lastIndexOf('/');
        if (slash > 0 && !names.contains(name.substring(0, slash))) {
            throw new IllegalArgumentException("initramfs entry " + name + " comes before its directory");
        }
        header(name, mode, data.length);
        write(data);
        pad();
    }

    /** Paths are relative to the archive root, without "." or ".." segments. */
    private static String normalize(String path) {
        String p = path.startsWith("/") ? path.substring(1) : path;
        if (p.isEmpty() || p.endsWith("/")) {
            throw new IllegalArgumentException("bad initramfs path: '" + path + "'");
        }
        for (String segment : p.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("bad initramfs path: '" + path + "'");
            }
        }
        return p;
    }

    private void header(String name, int mode, long size) throws IOException {
        byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder("070701");
        long[] fields = {
            nextInode++, mode, 0 /* uid */, 0 /* gid */, (mode & MODE_DIR) == MODE_DIR ? 2 : 1 /* nlink */,
            0 /* mtime: fixed, so equal inputs give equal archives */, size, 0, 0, 0, 0, nameBytes.length, 0 /* check */
        };
        for (long f : fields) {
            if (f < 0 || f > 0xFFFF_FFFFL) {
                throw new IllegalArgumentException("cpio field out of range: " + f + " for " + name);
            }
            h.append(String.format("%08x", f));
        }
        write(h.toString().getBytes(StandardCharsets.US_ASCII));
        write(nameBytes);
        pad();
    }

    private void write(byte[] bytes) throws IOException {
        out.write(bytes);
        written += bytes.length;
    }

    private void pad() throws IOException {
        while (written % 4 != 0) {
            out.write(0);
            written++;
        }
    }

    /** Writes the trailer; further entries are refused. Does not close the stream. */
    public void finish() throws IOException {
        if (!finished) {
            header("TRAILER!!!", 0, 0);
            finished = true;
        }
    }

    /** {@link #finish()}, then closes the underlying stream. */
    @Override
    public void close() throws IOException {
        finish();
        out.close();
    }
}
