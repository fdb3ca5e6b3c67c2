package io.boxlite.vmm.arch.x86_64.acpi;

/** A virtio-mmio transport as the DSDT announces it: {@code size} bytes at {@code base}, edge interrupt {@code gsi}. */
public record MmioDeviceInfo(long base, long size, int gsi) {
    public MmioDeviceInfo {
        if (base < 0 || base + size > 0x1_0000_0000L || size <= 0) {
            throw new IllegalArgumentException("virtio-mmio window must lie below 4 GiB: 0x" + Long.toHexString(base)
                    + "+" + size);
        }
    }
}
