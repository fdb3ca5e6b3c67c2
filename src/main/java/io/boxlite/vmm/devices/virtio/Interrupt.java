package io.boxlite.vmm.devices.virtio;

/**
 * How a device tells the driver something happened. Implemented by each transport: on
 * virtio-mmio by setting the interrupt status register and raising the device's IRQ (an irqfd
 * on the KVM engine); on vhost-user by writing the vring's call eventfd. Implementations are
 * thread-safe and never block for long: device workers call them from virtual threads.
 */
public interface Interrupt {
    /** Used buffers were added to queue {@code queue} (the caller already checked {@code needsNotification}). */
    void signalUsed(int queue);

    /** The device changed its configuration space. */
    void signalConfigChange();

    /**
     * The device hit an error it cannot recover from without a reset (a broken ring, a failed
     * back end). virtio-mmio sets {@code DEVICE_NEEDS_RESET} in the status register and raises
     * a configuration interrupt; vhost-user signals the vring's error eventfd. The device stops
     * processing {@code queue} (or all queues when {@code queue} is -1) until it is reset.
     */
    void needsReset(int queue, String reason);
}
