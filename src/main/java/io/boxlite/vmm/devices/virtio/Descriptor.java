package io.boxlite.vmm.devices.virtio;

import io.boxlite.vmm.memory.GuestAddress;

/**
 * One validated buffer of a descriptor chain: {@code length} bytes at {@code address}, already
 * checked to lie inside guest RAM, readable or writable by the device.
 */
public record Descriptor(GuestAddress address, int length, boolean writable) {
    public Descriptor {
        if (length < 0) {
            throw new IllegalArgumentException("negative descriptor length " + length);
        }
    }
}
