package io.boxlite.vmm.devices.virtio;

/** Bits of the virtio device status field (virtio spec §2.1). */
public final class DeviceStatus {
    public static final int ACKNOWLEDGE = 1;
    public static final int DRIVER = 2;
    public static final int DRIVER_OK = 4;
    public static final int FEATURES_OK = 8;
    public static final int DEVICE_NEEDS_RESET = 0x40;
    public static final int FAILED = 0x80;

    private DeviceStatus() {
    }

    /** A readable form such as {@code ACKNOWLEDGE|DRIVER|FEATURES_OK}, for log messages. */
    public static String describe(int status) {
        if (status == 0) {
            return "0 (reset)";
        }
        StringBuilder b = new StringBuilder();
        String[] names = {"ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK", "bit4", "bit5", "DEVICE_NEEDS_RESET", "FAILED"};
        for (int i = 0; i < names.length; i++) {
            if ((status & (1 << i)) != 0) {
                b.append(b.isEmpty() ? "" : "|").append(names[i]);
            }
        }
        return b.toString();
    }
}
