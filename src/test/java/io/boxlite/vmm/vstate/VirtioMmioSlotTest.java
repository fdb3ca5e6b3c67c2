package io.boxlite.vmm.vstate;

import io.boxlite.disk.RawDiskImage;
import io.boxlite.kvm.EnabledIfKvmAvailable;
import io.boxlite.vmm.arch.x86_64.Layout;
import io.boxlite.vmm.arch.x86_64.acpi.MmioDeviceInfo;
import io.boxlite.vmm.devices.virtio.DeviceStatus;
import io.boxlite.vmm.devices.virtio.block.BlockDevice;
import io.boxlite.vmm.devices.virtio.vsock.VsockDevice;
import io.boxlite.vmm.testguests.TestGuest;
import io.boxlite.vmm.transport.mmio.MmioTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The KVM engine's virtio-mmio wiring: devices given to {@link VmConfig} get a window, a GSI and
 * a DSDT entry; a freestanding guest driving virtio-blk reaches our Java device through MMIO
 * exits for registers, an ioeventfd for its kicks and the used-buffer interrupt.
 */
class VirtioMmioSlotTest {
    @Test
    void devicesTakeTheFirstSlotsNotAlreadyAnnounced() {
        MmioDeviceInfo scratch = new MmioDeviceInfo(Layout.MMIO_SLOTS_START, 0x1000, Layout.FIRST_DEVICE_GSI);
        List<MmioDeviceInfo> placed = VirtioMmioSlot.place(List.of(scratch), 2);
        assertEquals(List.of(new MmioDeviceInfo(Layout.MMIO_SLOTS_START + 0x1000, 0x1000, Layout.FIRST_DEVICE_GSI + 1),
                new MmioDeviceInfo(Layout.MMIO_SLOTS_START + 0x2000, 0x1000, Layout.FIRST_DEVICE_GSI + 2)), placed);
    }

    @Test
    void moreDevicesThanInterruptLinesAreRefusedWithTheLimit() {
        VmConfig.Builder b = VmConfig.builder().kernel(TestGuest.RESET.image(), "reset");
        for (int i = 0; i <= VirtioMmioSlot.MAX_SLOTS; i++) {
            b.virtioDevice(new VsockDevice(3 + i));
        }
        var e = assertThrows(io.boxlite.InvalidArgumentException.class, b::build);
        assertTrue(e.getMessage().contains("at most " + VirtioMmioSlot.MAX_SLOTS), e.getMessage());
    }

    @Test
    @EnabledIfKvmAvailable
    void aGuestDriverReadsAndWritesTheJavaBlockDeviceThroughIoeventfdKicks(@TempDir Path dir) throws Exception {
        Path disk = dir.resolve("disk.raw");
        byte[] sector0 = new byte[512];
        byte[] text = "BOXLITE virtio-mmio sector zero".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(text, 0, sector0, 0, text.length);
        sector0[511] = 0x5a;
        byte[] image = new byte[64 * 1024];
        System.arraycopy(sector0, 0, image, 0, 512);
        Files.write(disk, image);

        BlockDevice device = new BlockDevice(RawDiskImage.open(disk, false), "tg-disk");
        AtomicReference<List<VirtioMmioSlot>> slots = new AtomicReference<>();
        TestGuestRun run = TestGuestRun.run(TestGuest.VIRTIO_BLK, b -> b.virtioDevice(device),
                vm -> slots.set(vm.virtioSlots()));
        assertEquals(new VmExit.GuestStatus(0), run.exit(), run.describe());

        assertTrue(run.console().contains("capacity 128 "), run.describe());
        assertTrue(run.console().contains("sector0 fnv1a 0x" + Long.toHexString(fnv1a(sector0))),
                "the guest read sector 0 through the device: " + run.describe());
        byte[] sector1 = new byte[512];
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
            ch.read(ByteBuffer.wrap(sector1), 512);
        }
        for (int i = 0; i < 512; i++) {
            assertEquals((byte) (i * 7 + 3), sector1[i], "sector 1 byte " + i + " as the guest wrote it");
        }

        VirtioMmioSlot slot = slots.get().getFirst();
        assertEquals(new MmioDeviceInfo(Layout.MMIO_SLOTS_START, MmioTransport.WINDOW_SIZE, Layout.FIRST_DEVICE_GSI),
                slot.window());
        VirtioMmioSlot.Stats stats = slot.stats();
        assertEquals(2, stats.ioeventfdKicks(), "both kicks came through the ioeventfd: " + stats);
        assertEquals(0, stats.exitKicks(), "no kick left KVM as an MMIO exit: " + stats);
        assertEquals(2, stats.interrupts(), "one used-buffer interrupt per request: " + stats);
        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK,
                slot.transport().status());
        assertFalse(device.active(), "closing the VM reset the device");
    }

    private static long fnv1a(byte[] data) {
        long h = 0xcbf29ce484222325L;
        for (byte b : data) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
