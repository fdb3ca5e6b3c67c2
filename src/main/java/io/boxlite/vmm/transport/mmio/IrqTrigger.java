package io.boxlite.vmm.transport.mmio;

/**
 * Raises the device's interrupt line. The KVM engine implements it by writing the device's
 * irqfd (non-blocking, callable from any thread); tests count calls.
 */
@FunctionalInterface
public interface IrqTrigger {
    void trigger();
}
