package io.boxlite.vmm.devices.virtio;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class FeaturesTest {
    @Test
    void keepsOnlyOfferedBits() {
        Features f = new Features("test", VirtioFeatures.COMMON | VirtioFeatures.bit(5));
        long kept = f.ack(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(5) | VirtioFeatures.bit(7) | VirtioFeatures.bit(40));
        assertEquals(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(5), kept);
        assertEquals(kept, f.acked());
        assertTrue(f.isAcked(5));
        assertFalse(f.isAcked(7));
        f.reset();
        assertEquals(0, f.acked());
    }

    @Test
    void refusesADeviceWithoutVersion1() {
        assertThrows(IllegalArgumentException.class, () -> new Features("legacy", VirtioFeatures.bit(5)));
    }
}
