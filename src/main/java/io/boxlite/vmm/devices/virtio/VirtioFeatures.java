package io.boxlite.vmm.devices.virtio;

/** Device-independent virtio 1.x feature bits (virtio spec §6) and bit helpers. */
public final class VirtioFeatures {
    /** Descriptors may point to tables of descriptors (§2.7.5.3). */
    public static final int RING_INDIRECT_DESC = 28;
    /** used_event / avail_event suppress notifications (§2.7.7, §2.7.10). */
    public static final int RING_EVENT_IDX = 29;
    /** Modern (non-legacy) device: the only kind this project implements. */
    public static final int VERSION_1 = 32;

    /** Transport features every device offers: modern, indirect tables, event index. */
    public static final long COMMON = bit(VERSION_1) | bit(RING_INDIRECT_DESC) | bit(RING_EVENT_IDX);

    private VirtioFeatures() {
    }

    public static long bit(int feature) {
        if (feature < 0 || feature > 63) {
            throw new IllegalArgumentException("feature bit " + feature + " is outside 0..63");
        }
        return 1L << feature;
    }

    public static boolean has(long features, int feature) {
        return (features & bit(feature)) != 0;
    }
}
