package io.boxlite.vmm.transport.mmio;

import io.boxlite.InvalidStateException;
import io.boxlite.vmm.devices.virtio.DeviceStatus;
import io.boxlite.vmm.devices.virtio.Features;
import io.boxlite.vmm.devices.virtio.Interrupt;
import io.boxlite.vmm.devices.virtio.VirtioDevice;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static io.boxlite.vmm.transport.mmio.MmioTransport.*;
import static org.junit.jupiter.api.Assertions.*;

class MmioTransportTest {
    /** A device that records what the transport does to it. */
    static final class RecordingDevice implements VirtioDevice {
        final Features features = new Features("recording", VirtioFeatures.COMMON | VirtioFeatures.bit(3));
        final byte[] config = {1, 2, 3, 4, 5, 6, 7, 8};
        final List<Integer> notified = new ArrayList<>();
        List<Virtqueue> queues;
        Interrupt interrupt;
        int resets;
        boolean active;

        @Override public int deviceType() { return 42; }
        @Override public long availFeatures() { return features.available(); }
        @Override public long ackedFeatures() { return features.acked(); }
        @Override public void ackFeatures(long f) { features.ack(f); }
        @Override public List<Integer> queueMaxSizes() { return List.of(16, 8); }
        @Override public int configSize() { return config.length; }

        @Override
        public void readConfig(long offset, byte[] data) {
            for (int i = 0; i < data.length; i++) {
                data[i] = offset + i < config.length ? config[(int) offset + i] : 0;
            }
        }

        @Override
        public void writeConfig(long offset, byte[] data) {
            System.arraycopy(data, 0, config, (int) offset, data.length);
        }

        @Override
        public void activate(GuestMemory memory, List<Virtqueue> queues, Interrupt interrupt) {
            if (active) {
                throw new InvalidStateException("already active");
            }
            this.queues = queues;
            this.interrupt = interrupt;
            active = true;
        }

        @Override public boolean active() { return active; }
        @Override public void queueNotify(int queue) { notified.add(queue); }

        @Override
        public void reset() {
            resets++;
            active = false;
            features.reset();
        }
    }

    private GuestMemory memory;
    private GuestHeap heap;
    private RecordingDevice device;
    private final AtomicInteger irqs = new AtomicInteger();
    private MmioTransport mmio;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 1 << 20)));
        heap = new GuestHeap(memory, GuestAddress.of(0), 1 << 20);
        device = new RecordingDevice();
        mmio = new MmioTransport(device, memory, irqs::incrementAndGet);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private int rd(int offset) {
        byte[] b = new byte[4];
        mmio.read(offset, b);
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }

    private void wr(int offset, int v) {
        mmio.write(offset, new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)});
    }

    private void addStatus(int bits) {
        wr(STATUS, rd(STATUS) | bits);
    }

    /** What Linux's virtio_mmio probe and virtio core do up to FEATURES_OK. */
    private long probeAndNegotiate(long wanted) {
        assertEquals(MAGIC, rd(MAGIC_VALUE));
        assertEquals(2, rd(VERSION));
        assertEquals(42, rd(DEVICE_ID));
        rd(VENDOR_ID);
        wr(STATUS, 0);
        addStatus(DeviceStatus.ACKNOWLEDGE);
        addStatus(DeviceStatus.DRIVER);
        wr(DEVICE_FEATURES_SEL, 1);
        long offered = (long) rd(DEVICE_FEATURES) << 32;
        wr(DEVICE_FEATURES_SEL, 0);
        offered |= Integer.toUnsignedLong(rd(DEVICE_FEATURES));
        long chosen = offered & wanted;
        wr(DRIVER_FEATURES_SEL, 1);
        wr(DRIVER_FEATURES, (int) (chosen >>> 32));
        wr(DRIVER_FEATURES_SEL, 0);
        wr(DRIVER_FEATURES, (int) chosen);
        addStatus(DeviceStatus.FEATURES_OK);
        return offered;
    }

    private MockSplitQueue setUpQueue(int index, int size) {
        wr(QUEUE_SEL, index);
        assertEquals(0, rd(QUEUE_READY));
        int max = rd(QUEUE_NUM_MAX);
        assertTrue(size <= max);
        MockSplitQueue q = new MockSplitQueue(heap, size);
        wr(QUEUE_NUM, size);
        wr(QUEUE_DESC_LOW, (int) q.descTable().value());
        wr(QUEUE_DESC_HIGH, (int) (q.descTable().value() >>> 32));
        wr(QUEUE_DRIVER_LOW, (int) q.availRing().value());
        wr(QUEUE_DRIVER_HIGH, 0);
        wr(QUEUE_DEVICE_LOW, (int) q.usedRing().value());
        wr(QUEUE_DEVICE_HIGH, 0);
        wr(QUEUE_READY, 1);
        assertEquals(1, rd(QUEUE_READY));
        return q;
    }

    @Test
    void aLinuxStyleProbeActivatesTheDeviceWithItsQueues() {
        long offered = probeAndNegotiate(VirtioFeatures.COMMON | VirtioFeatures.bit(3));
        assertEquals(VirtioFeatures.COMMON | VirtioFeatures.bit(3), offered);
        assertTrue((rd(STATUS) & DeviceStatus.FEATURES_OK) != 0, "FEATURES_OK accepted");
        assertEquals(offered, device.ackedFeatures());
        MockSplitQueue q0 = setUpQueue(0, 16);
        setUpQueue(1, 8);
        wr(QUEUE_SEL, 2);
        assertEquals(0, rd(QUEUE_NUM_MAX), "no third queue");
        assertFalse(device.active());
        addStatus(DeviceStatus.DRIVER_OK);
        assertTrue(device.active());
        assertEquals(2, device.queues.size());
        assertTrue(device.queues.get(0).active());
        assertEquals(q0.descTable().value(), device.queues.get(0).descTable());
        assertEquals(16, device.queues.get(0).size());
        assertEquals(8, device.queues.get(1).size());

        wr(QUEUE_NOTIFY, 1);
        wr(QUEUE_NOTIFY, 0);
        wr(QUEUE_NOTIFY, 7);
        assertEquals(List.of(1, 0), device.notified, "notify of a queue that does not exist is dropped");
    }

    @Test
    void interruptsSetStatusBitsUntilAcknowledged() {
        probeAndNegotiate(VirtioFeatures.COMMON);
        setUpQueue(0, 16);
        addStatus(DeviceStatus.DRIVER_OK);
        device.interrupt.signalUsed(0);
        assertEquals(1, irqs.get());
        assertEquals(INT_USED_RING, rd(INTERRUPT_STATUS));
        int gen = rd(CONFIG_GENERATION);
        device.interrupt.signalConfigChange();
        assertEquals(INT_USED_RING | INT_CONFIG, rd(INTERRUPT_STATUS));
        assertEquals(gen + 1, rd(CONFIG_GENERATION), "config changes bump the generation");
        wr(INTERRUPT_ACK, INT_USED_RING);
        assertEquals(INT_CONFIG, rd(INTERRUPT_STATUS));
        wr(INTERRUPT_ACK, INT_CONFIG);
        assertEquals(0, rd(INTERRUPT_STATUS));
    }

    @Test
    void featuresOkIsRefusedWithoutVersion1() {
        probeAndNegotiate(VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX));
        assertEquals(0, rd(STATUS) & DeviceStatus.FEATURES_OK, "the driver reads FEATURES_OK back and sees it clear");
        addStatus(DeviceStatus.DRIVER_OK);
        assertFalse(device.active(), "DRIVER_OK without FEATURES_OK does not activate");
    }

    @Test
    void featuresWrittenAfterFeaturesOkAreIgnored() {
        probeAndNegotiate(VirtioFeatures.COMMON);
        wr(DRIVER_FEATURES_SEL, 0);
        wr(DRIVER_FEATURES, 0);
        addStatus(DeviceStatus.DRIVER_OK);
        assertEquals(VirtioFeatures.COMMON, device.ackedFeatures());
    }

    @Test
    void aQueueOutsideGuestMemorySetsDeviceNeedsReset() {
        probeAndNegotiate(VirtioFeatures.COMMON);
        setUpQueue(0, 16);
        wr(QUEUE_SEL, 1);
        wr(QUEUE_NUM, 8);
        wr(QUEUE_DESC_LOW, 0);
        wr(QUEUE_DESC_HIGH, 1); // 4 GiB: no RAM there
        wr(QUEUE_READY, 1);
        addStatus(DeviceStatus.DRIVER_OK);
        assertFalse(device.active());
        assertTrue((rd(STATUS) & DeviceStatus.DEVICE_NEEDS_RESET) != 0);
        assertEquals(INT_CONFIG, rd(INTERRUPT_STATUS) & INT_CONFIG);
        wr(STATUS, 0);
        assertEquals(0, rd(STATUS), "reset clears DEVICE_NEEDS_RESET");
    }

    @Test
    void aDeviceErrorSetsNeedsResetAndWritingZeroResetsEverything() {
        probeAndNegotiate(VirtioFeatures.COMMON);
        setUpQueue(0, 16);
        addStatus(DeviceStatus.DRIVER_OK);
        device.interrupt.needsReset(0, "test");
        assertTrue((rd(STATUS) & DeviceStatus.DEVICE_NEEDS_RESET) != 0);
        Interrupt stale = device.interrupt;
        wr(STATUS, 0);
        assertEquals(1 + 1, device.resets, "reset during probe and now");
        assertFalse(device.active());
        assertEquals(0, rd(STATUS));
        assertEquals(0, device.ackedFeatures());
        wr(QUEUE_SEL, 0);
        assertEquals(0, rd(QUEUE_READY), "queues are reset");
        int before = irqs.get();
        stale.signalUsed(0);
        assertEquals(before, irqs.get(), "an interrupt from before the reset is dropped");

        // and the device can be brought up again
        probeAndNegotiate(VirtioFeatures.COMMON);
        setUpQueue(0, 16);
        addStatus(DeviceStatus.DRIVER_OK);
        assertTrue(device.active());
    }

    @Test
    void statusWritesThatClearBitsAreIgnored() {
        probeAndNegotiate(VirtioFeatures.COMMON);
        int s = rd(STATUS);
        wr(STATUS, DeviceStatus.ACKNOWLEDGE);
        assertEquals(s, rd(STATUS));
    }

    @Test
    void queueRegistersAreFrozenAfterDriverOk() {
        probeAndNegotiate(VirtioFeatures.COMMON);
        setUpQueue(0, 16);
        addStatus(DeviceStatus.DRIVER_OK);
        wr(QUEUE_SEL, 0);
        wr(QUEUE_NUM, 4);
        assertEquals(16, device.queues.get(0).size());
    }

    @Test
    void configSpaceIsForwardedAndOddRegisterAccessesAreHarmless() {
        byte[] b = new byte[2];
        mmio.read(CONFIG + 2, b);
        assertArrayEquals(new byte[] {3, 4}, b);
        mmio.write(CONFIG + 1, new byte[] {9});
        mmio.read(CONFIG, b);
        assertArrayEquals(new byte[] {1, 9}, b);
        byte[] odd = {7, 7};
        mmio.read(MAGIC_VALUE, odd);
        assertArrayEquals(new byte[] {0, 0}, odd, "a 16-bit register read yields zeros");
        mmio.write(STATUS, new byte[] {1});
        assertEquals(0, rd(STATUS), "a 1-byte status write is ignored");
        wr(0x0c0, 5); // unknown register
        assertEquals(-1, rd(SHM_LEN_LOW), "no shared memory regions");
    }
}
