package io.boxlite.vmm.transport.mmio;

import io.boxlite.disk.RawDiskImage;
import io.boxlite.vmm.devices.virtio.DeviceStatus;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.block.BlockDevice;
import io.boxlite.vmm.devices.virtio.block.BlockRequest;
import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static io.boxlite.vmm.transport.mmio.MmioTransport.*;
import static org.junit.jupiter.api.Assertions.*;

/** virtio-blk behind the MMIO register file, driven the way Linux's virtio_mmio + virtio_blk do. */
class MmioBlockTest {
    @TempDir
    Path dir;

    @Test
    void aLinuxStyleDriverProbesTheDiskAndReadsASectorThroughInterrupts() throws Exception {
        try (GuestMemory memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 4L << 20)));
             RawDiskImage disk = RawDiskImage.create(dir.resolve("d.raw"), 1L << 20)) {
            byte[] sector = new byte[512];
            for (int i = 0; i < sector.length; i++) {
                sector[i] = (byte) (i * 7);
            }
            disk.write(512 * 5, ByteBuffer.wrap(sector));
            GuestHeap heap = new GuestHeap(memory, GuestAddress.of(0x1000), (4L << 20) - 0x1000);
            Semaphore irq = new Semaphore(0);
            MmioTransport mmio = new MmioTransport(new BlockDevice(disk, "d"), memory, irq::release);
            Regs r = new Regs(mmio);

            assertEquals(MAGIC, r.rd(MAGIC_VALUE));
            assertEquals(2, r.rd(VERSION));
            assertEquals(BlockDevice.TYPE, r.rd(DEVICE_ID));
            r.wr(STATUS, 0);
            r.wr(STATUS, DeviceStatus.ACKNOWLEDGE);
            r.wr(STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
            r.wr(DEVICE_FEATURES_SEL, 0);
            long features = Integer.toUnsignedLong(r.rd(DEVICE_FEATURES));
            r.wr(DEVICE_FEATURES_SEL, 1);
            features |= (long) r.rd(DEVICE_FEATURES) << 32;
            assertTrue(VirtioFeatures.has(features, BlockDevice.F_FLUSH));
            r.wr(DRIVER_FEATURES_SEL, 0);
            r.wr(DRIVER_FEATURES, (int) features);
            r.wr(DRIVER_FEATURES_SEL, 1);
            r.wr(DRIVER_FEATURES, (int) (features >>> 32));
            r.wr(STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
            assertNotEquals(0, r.rd(STATUS) & DeviceStatus.FEATURES_OK);

            r.wr(QUEUE_SEL, 0);
            assertEquals(BlockDevice.QUEUE_SIZE, r.rd(QUEUE_NUM_MAX));
            MockSplitQueue q = new MockSplitQueue(heap, 128);
            r.wr(QUEUE_NUM, 128);
            r.wr(QUEUE_DESC_LOW, (int) q.descTable().value());
            r.wr(QUEUE_DRIVER_LOW, (int) q.availRing().value());
            r.wr(QUEUE_DEVICE_LOW, (int) q.usedRing().value());
            r.wr(QUEUE_READY, 1);
            long capacity = Integer.toUnsignedLong(r.rd(CONFIG)) | (long) r.rd(CONFIG + 4) << 32;
            assertEquals(2048, capacity, "1 MiB in 512-byte sectors, read through the config window");
            r.wr(STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);

            GuestAddress hdr = heap.alloc(16);
            memory.writeInt(hdr, BlockRequest.T_IN);
            memory.writeLong(hdr.plus(8), 5);
            GuestAddress data = heap.alloc(512);
            GuestAddress status = heap.alloc(1);
            memory.writeByte(status, (byte) 0xff);
            int head = q.offer(List.of(MockSplitQueue.Buffer.readable(hdr, 16), MockSplitQueue.Buffer.writable(data, 512),
                    MockSplitQueue.Buffer.writable(status, 1)));
            r.wr(QUEUE_NOTIFY, 0);

            assertTrue(irq.tryAcquire(10, TimeUnit.SECONDS), "the device raised its interrupt");
            int cause = r.rd(INTERRUPT_STATUS);
            assertEquals(INT_USED_RING, cause & INT_USED_RING);
            r.wr(INTERRUPT_ACK, cause);
            assertEquals(new MockSplitQueue.Used(head, 513), q.pollUsed());
            assertEquals(BlockRequest.S_OK, memory.readByte(status));
            assertArrayEquals(sector, memory.read(data, 512));

            r.wr(STATUS, 0);
            assertFalse(mmio.device().active(), "reset stops the device");
        }
    }

    private record Regs(MmioTransport mmio) {
        int rd(int offset) {
            byte[] b = new byte[4];
            mmio.read(offset, b);
            return ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
        }

        void wr(int offset, int v) {
            mmio.write(offset, ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(v).array());
        }
    }
}
