package io.boxlite.vmm.devices.virtio;

import io.boxlite.vmm.memory.GuestMemory;

import java.util.List;

/**
 * A virtio 1.x device, independent of engine and transport. A transport (virtio-mmio on the
 * KVM engine, vhost-user for QEMU) owns the registers or messages, negotiates features through
 * {@link #ackFeatures}, builds one {@link Virtqueue} per queue, and calls {@link #activate} when
 * the driver is ready.
 *
 * <p>Threading: {@link #activate} starts the device's workers (virtual threads) and returns at
 * once, because transports call it on a vCPU or event-loop thread. {@link #queueNotify} only
 * wakes a worker. Nothing the guest puts in memory may make a method throw; malformed requests
 * fail that request, and unrecoverable ring damage goes to {@link Interrupt#needsReset}.
 *
 * {@snippet :
 * VirtioDevice dev = new BlockDevice(RawDiskImage.open(path, false), "disk0");
 * MmioTransport mmio = new MmioTransport(dev, memory, irq::trigger);
 * // the vCPU loop forwards MMIO exits at the device's window:
 * mmio.read(offset, data);
 * }
 */
public interface VirtioDevice {
    /** The virtio device type id (2 = block, 19 = socket, …; spec §5). */
    int deviceType();

    /** Feature bits the device offers, transport bits included. */
    long availFeatures();

    /** Feature bits the driver acknowledged (after unknown bits were dropped). */
    long ackedFeatures();

    /** Records the driver's features; bits not offered are warned about and dropped. */
    void ackFeatures(long features);

    /** Maximum size of each queue; the list's length is the queue count. */
    List<Integer> queueMaxSizes();

    /** Length in bytes of the device-specific configuration space. */
    int configSize();

    /** Copies config bytes at {@code offset} into {@code data}; bytes past the end read as zero. */
    void readConfig(long offset, byte[] data);

    /** Driver write to config space; read-only fields ignore writes (with a debug log). */
    void writeConfig(long offset, byte[] data);

    /**
     * Starts serving: the queues are configured and validated ({@link Virtqueue#activate}),
     * {@code interrupt} is how the device signals. Returns at once.
     *
     * @throws io.boxlite.InvalidStateException if the device is already active
     */
    void activate(GuestMemory memory, List<Virtqueue> queues, Interrupt interrupt);

    /** Whether {@link #activate} ran and no {@link #reset} followed. */
    boolean active();

    /** The driver kicked queue {@code queue} (from MMIO QueueNotify, an ioeventfd, or a vhost-user kick). */
    void queueNotify(int queue);

    /**
     * Stops the workers, waits for requests in flight (bounded), forgets negotiated features,
     * and makes the device ready for a new {@link #activate}. Idempotent.
     */
    void reset();
}
