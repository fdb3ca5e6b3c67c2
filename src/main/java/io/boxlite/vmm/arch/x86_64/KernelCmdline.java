package io.boxlite.vmm.arch.x86_64;

import io.boxlite.InvalidArgumentException;

import java.nio.charset.StandardCharsets;

/**
 * A kernel command line under construction: printable ASCII words separated by single spaces,
 * at most {@code capacity} bytes with the NUL. Builders are not thread-safe.
 *
 * {@snippet :
 * String line = KernelCmdline.withCapacity(2048).append("console=ttyS0 reboot=k panic=-1")
 *         .addVirtioMmioDevice(0x1000, 0xC000_1000L, 5).toString();
 * }
 */
public final class KernelCmdline {
    private final int capacity;
    private final StringBuilder line = new StringBuilder();

    private KernelCmdline(int capacity) {
        this.capacity = capacity;
    }

    /** An empty line of at most {@code capacity} bytes including the terminating NUL. */
    public static KernelCmdline withCapacity(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        return new KernelCmdline(capacity);
    }

    /** Appends words, separated from what is there by a space. */
    public KernelCmdline append(String words) {
        String w = words.strip();
        if (w.isEmpty()) {
            return this;
        }
        for (int i = 0; i < w.length(); i++) {
            char c = w.charAt(i);
            if (c < 0x20 || c > 0x7E) {
                throw new InvalidArgumentException("kernel command line contains a non-printable or non-ASCII "
                        + "character (code " + (int) c + ") at position " + i + " of \"" + w + "\"");
            }
        }
        int added = (line.isEmpty() ? 0 : 1) + w.length();
        if (line.length() + added + 1 > capacity) {
            throw new InvalidArgumentException("kernel command line would be " + (line.length() + added + 1)
                    + " bytes with its NUL; the limit is " + capacity);
        }
        if (!line.isEmpty()) {
            line.append(' ');
        }
        line.append(w);
        return this;
    }

    /** {@code virtio_mmio.device=<size>@<base>:<irq>}, for kernels with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES. */
    public KernelCmdline addVirtioMmioDevice(long size, long base, int irq) {
        if (size <= 0 || base < 0 || irq < 0) {
            throw new IllegalArgumentException("bad virtio-mmio device " + size + "@" + base + ":" + irq);
        }
        String s = size % 1024 == 0 ? (size / 1024) + "K" : Long.toString(size);
        return append("virtio_mmio.device=" + s + "@0x" + Long.toHexString(base) + ":" + irq);
    }

    /** The bytes to place in guest memory, NUL included. */
    public byte[] bytesWithNul() {
        byte[] b = line.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[b.length + 1];
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }

    @Override
    public String toString() {
        return line.toString();
    }
}
