package io.boxlite.vmm.devices.virtio.vsock;

/**
 * A circular byte buffer that grows on demand up to a fixed maximum, so idle connections cost
 * little memory. Not thread-safe: guarded by the owning connection's lock.
 */
final class ByteRing {
    private static final int INITIAL = 4096;

    private final int max;
    private byte[] buf = new byte[0];
    private int head;
    private int size;

    ByteRing(int max) {
        this.max = max;
    }

    int size() {
        return size;
    }

    int free() {
        return max - size;
    }

    void clear() {
        buf = new byte[0];
        head = 0;
        size = 0;
    }

    /** Appends {@code n} bytes; the caller made sure they fit. */
    void write(byte[] src, int off, int n) {
        if (n > free()) {
            throw new IllegalStateException("ring overflow: " + n + " > " + free());
        }
        ensure(size + n);
        int tail = (head + size) % buf.length;
        int first = Math.min(n, buf.length - tail);
        System.arraycopy(src, off, buf, tail, first);
        System.arraycopy(src, off + first, buf, 0, n - first);
        size += n;
    }

    /** Moves up to {@code n} bytes into {@code dst}; returns how many. */
    int read(byte[] dst, int off, int n) {
        int take = Math.min(n, size);
        if (take == 0) {
            return 0;
        }
        int first = Math.min(take, buf.length - head);
        System.arraycopy(buf, head, dst, off, first);
        System.arraycopy(buf, 0, dst, off + first, take - first);
        head = (head + take) % buf.length;
        size -= take;
        return take;
    }

    private void ensure(int needed) {
        if (needed <= buf.length) {
            return;
        }
        int cap = Math.max(INITIAL, buf.length);
        while (cap < needed) {
            cap = Math.min(max, cap * 2);
        }
        byte[] bigger = new byte[cap];
        int n = size;
        read(bigger, 0, n);
        buf = bigger;
        head = 0;
        size = n;
    }
}
