package io.boxlite.vmm.devices.virtio;

import java.lang.System.Logger.Level;

/**
 * Feature negotiation, written once for every device: the device offers {@link #available()},
 * the driver acknowledges a subset. Bits the device did not offer are logged as a warning and
 * dropped (the driver is buggy or hostile; dropping them keeps the device in a state it
 * understands). Thread-safe.
 */
public final class Features {
    private static final System.Logger LOG = System.getLogger(Features.class.getName());

    private final String device;
    private final long available;
    private volatile long acked;

    /**
     * @param device    device name for log messages, e.g. {@code "virtio-blk"}
     * @param available the feature bits offered; must include {@link VirtioFeatures#VERSION_1}
     */
    public Features(String device, long available) {
        if (!VirtioFeatures.has(available, VirtioFeatures.VERSION_1)) {
            throw new IllegalArgumentException(device + " must offer VIRTIO_F_VERSION_1: only modern virtio is implemented");
        }
        this.device = device;
        this.available = available;
    }

    public long available() {
        return available;
    }

    public long acked() {
        return acked;
    }

    /** Records the driver's choice; bits not offered are warned about and dropped. Returns what was kept. */
    public long ack(long driverFeatures) {
        long unknown = driverFeatures & ~available;
        if (unknown != 0) {
            LOG.log(Level.WARNING, "{0}: driver acknowledged features 0x{1} that were not offered; ignoring them",
                    device, Long.toHexString(unknown));
        }
        long kept = driverFeatures & available;
        acked = kept;
        return kept;
    }

    public boolean isAcked(int feature) {
        return VirtioFeatures.has(acked, feature);
    }

    /** Back to nothing acknowledged (device reset). */
    public void reset() {
        acked = 0;
    }
}
