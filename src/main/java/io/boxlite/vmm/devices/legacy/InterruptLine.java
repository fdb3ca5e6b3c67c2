package io.boxlite.vmm.devices.legacy;

/** An edge-triggered interrupt a device raises (an irqfd on a GSI, in a VM). */
@FunctionalInterface
public interface InterruptLine {
    void trigger();
}
