package io.boxlite.disk.qcow2;

import static org.junit.jupiter.api.Assertions.fail;

import io.boxlite.disk.DiskImage;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** The expected content of a disk, kept in memory, and random operations applied to both. */
final class DiskModel {
    final byte[] bytes;

    DiskModel(int size) {
        bytes = new byte[size];
    }

    DiskModel(byte[] initial) {
        bytes = initial.clone();
    }

    void write(long offset, byte[] data) {
        System.arraycopy(data, 0, bytes, (int) offset, data.length);
    }

    void zero(long offset, long length) {
        Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }

    static byte[] randomBytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** Reads the whole disk in random chunk sizes and compares it with the model. */
    /**
     * Reads the whole disk in random pieces, each either one buffer ({@code read}) or a guest-like
     * scatter list of small buffers, mostly direct ({@code readv}, vectored on this platform
     * thread), and compares every byte with the model.
     */
    void assertMatches(DiskImage disk, Random rnd) {
        long pos = 0;
        while (pos < bytes.length) {
            int n = (int) Math.min(bytes.length - pos, 1 + rnd.nextInt(300_000));
            byte[] got = rnd.nextBoolean() ? readOne(disk, pos, n, rnd) : readScattered(disk, pos, n, rnd);
            assertRange(got, pos);
            pos += n;
        }
    }

    /** Writes {@code data} at {@code pos} through {@code writev} as a guest-like scatter list, and into the model. */
    void writeScattered(DiskImage disk, long pos, byte[] data, Random rnd) {
        List<ByteBuffer> parts = new ArrayList<>();
        for (int at = 0; at < data.length; ) {
            int size = Math.min(data.length - at, 1 + rnd.nextInt(9000));
            ByteBuffer b = rnd.nextInt(8) == 0 ? ByteBuffer.allocate(size) : ByteBuffer.allocateDirect(size);
            b.put(data, at, size).flip();
            parts.add(b);
            at += size;
        }
        disk.writev(pos, parts.toArray(ByteBuffer[]::new));
        for (ByteBuffer b : parts) {
            if (b.hasRemaining()) {
                fail("writev left bytes of the request at " + pos + " unwritten");
            }
        }
        write(pos, data);
    }

    private static byte[] readOne(DiskImage disk, long pos, int n, Random rnd) {
        ByteBuffer buf = rnd.nextBoolean() ? ByteBuffer.allocate(n) : ByteBuffer.allocateDirect(n);
        disk.read(pos, buf);
        if (buf.hasRemaining()) {
            fail("read did not fill the buffer at " + pos);
        }
        byte[] got = new byte[n];
        buf.flip().get(got);
        return got;
    }

    private static byte[] readScattered(DiskImage disk, long pos, int n, Random rnd) {
        List<ByteBuffer> parts = new ArrayList<>();
        for (int left = n; left > 0; ) {
            int size = Math.min(left, 1 + rnd.nextInt(9000));
            parts.add(rnd.nextInt(8) == 0 ? ByteBuffer.allocate(size) : ByteBuffer.allocateDirect(size));
            left -= size;
        }
        disk.readv(pos, parts.toArray(ByteBuffer[]::new));
        byte[] got = new byte[n];
        int at = 0;
        for (ByteBuffer b : parts) {
            if (b.hasRemaining()) {
                fail("readv did not fill every buffer of the request at " + pos);
            }
            int size = b.capacity();
            b.flip().get(got, at, size);
            at += size;
        }
        return got;
    }

    void assertEqualsBytes(byte[] actual) {
        if (actual.length < bytes.length) {
            fail("image is " + actual.length + " bytes, expected " + bytes.length);
        }
        assertRange(Arrays.copyOf(actual, bytes.length), 0);
    }

    private void assertRange(byte[] got, long pos) {
        int mismatch = Arrays.mismatch(got, 0, got.length, bytes, (int) pos, (int) pos + got.length);
        if (mismatch >= 0) {
            long at = pos + mismatch;
            fail("content differs at byte " + at + " (sector " + at / 512 + "): got "
                    + (got[mismatch] & 0xff) + ", expected " + (bytes[(int) at] & 0xff));
        }
    }
}
