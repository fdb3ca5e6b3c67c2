package io.boxlite.vmm.vstate;

/**
 * A device on the port-I/O or MMIO {@link Bus}. Called on vCPU threads, possibly several at
 * once: implementations synchronise their own state. Offsets are relative to the registered
 * base; {@code data} is 1–8 bytes, little-endian. Values come from the guest: validate them.
 */
public interface BusDevice {
    /** Fills {@code data} with the value read at {@code offset}. */
    void read(long offset, byte[] data);

    /** Takes the value the guest wrote at {@code offset}. */
    void write(long offset, byte[] data);
}
