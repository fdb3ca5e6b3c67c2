package io.boxlite.vmm.devices.virtio.vsock;

import io.boxlite.vmm.devices.virtio.VirtioFeatures;

/** Every vsock test again with a driver that negotiates neither EVENT_IDX nor indirect tables. */
class VsockDeviceWithoutEventIdxTest extends VsockDeviceTest {
    @Override
    protected long guestFeatures() {
        return VirtioFeatures.bit(VirtioFeatures.VERSION_1);
    }
}
