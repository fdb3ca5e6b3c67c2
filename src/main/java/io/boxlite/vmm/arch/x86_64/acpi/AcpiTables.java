package io.boxlite.vmm.arch.x86_64.acpi;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The ACPI tables of a hardware-reduced machine: RSDP → XSDT → FADT (→ DSDT) and MADT. The
 * DSDT describes COM1 and each virtio-mmio transport as an {@code LNRO0005} device, which is
 * how Debian's kernels (without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES) find them. The FADT's
 * reset register is the i8042 reset (port 0x64, value 0xFE), so ACPI reboot and {@code reboot=k}
 * end in the same place.
 *
 * {@snippet :
 * long rsdp = AcpiTables.write(memory, 0xE0000, 0x20000, new AcpiTables.Config(2, 0xFEC0_0000L,
 *         0xFEE0_0000L, List.of(new MmioDeviceInfo(0xC000_1000L, 0x1000, 5))));
 * }
 */
public final class AcpiTables {
    private AcpiTables() {
    }

    static final byte[] OEM_ID = "BOXLIT".getBytes(StandardCharsets.US_ASCII);
    static final byte[] OEM_TABLE_ID = "BOXLITVM".getBytes(StandardCharsets.US_ASCII);
    static final byte[] CREATOR_ID = "BXLT".getBytes(StandardCharsets.US_ASCII);
    public static final int HEADER_SIZE = 36;
    public static final int RSDP_SIZE = 36;
    public static final int FADT_SIZE = 276;
    static final int FADT_HW_REDUCED_ACPI = 1 << 20;
    static final int FADT_RESET_REG_SUP = 1 << 10;
    static final int FADT_PWR_BUTTON = 1 << 4;
    static final int FADT_SLP_BUTTON = 1 << 5;
    static final int IAPC_VGA_NOT_PRESENT = 1 << 2;
    static final int IAPC_CMOS_RTC_NOT_PRESENT = 1 << 5;
    static final int RESET_PORT = 0x64;
    static final int RESET_VALUE = 0xFE;

    /** What the tables describe. */
    public record Config(int vcpus, long ioapicAddress, long lapicAddress, List<MmioDeviceInfo> virtioMmio) {
        public Config {
            if (vcpus < 1 || vcpus > 254) {
                throw new IllegalArgumentException("vCPU count out of range: " + vcpus);
            }
            virtioMmio = List.copyOf(virtioMmio);
        }
    }

    /**
     * Writes all tables into [{@code start}, {@code start + size}) of guest memory, RSDP first;
     * returns the RSDP's address.
     */
    public static long write(GuestMemory memory, long start, long size, Config config) {
        long rsdpAt = start;
        long next = align(rsdpAt + RSDP_SIZE, 16);
        long dsdtAt = next;
        byte[] dsdt = dsdt(config);
        next = align(dsdtAt + dsdt.length, 16);
        long fadtAt = next;
        byte[] fadt = fadt(dsdtAt);
        next = align(fadtAt + fadt.length, 16);
        long madtAt = next;
        byte[] madt = madt(config);
        next = align(madtAt + madt.length, 16);
        long xsdtAt = next;
        byte[] xsdt = xsdt(List.of(fadtAt, madtAt));
        next = xsdtAt + xsdt.length;
        if (next > start + size) {
            throw new IllegalArgumentException("ACPI tables need " + (next - start) + " bytes; only " + size
                    + " reserved");
        }
        memory.write(GuestAddress.of(dsdtAt), dsdt);
        memory.write(GuestAddress.of(fadtAt), fadt);
        memory.write(GuestAddress.of(madtAt), madt);
        memory.write(GuestAddress.of(xsdtAt), xsdt);
        memory.write(GuestAddress.of(rsdpAt), rsdp(xsdtAt));
        return rsdpAt;
    }

    static byte[] rsdp(long xsdtAddress) {
        ByteBuffer b = le(RSDP_SIZE);
        b.put(0, "RSD PTR ".getBytes(StandardCharsets.US_ASCII));
        b.put(9, OEM_ID);
        b.put(15, (byte) 2); // ACPI 2.0+: XSDT present
        b.putInt(20, RSDP_SIZE);
        b.putLong(24, xsdtAddress);
        b.put(8, checksum(b.array(), 0, 20));
        b.put(32, checksum(b.array(), 0, RSDP_SIZE));
        return b.array();
    }

    static byte[] xsdt(List<Long> tables) {
        ByteBuffer b = le(HEADER_SIZE + 8 * tables.size());
        for (int i = 0; i < tables.size(); i++) {
            b.putLong(HEADER_SIZE + 8 * i, tables.get(i));
        }
        return finish(b, "XSDT", 1);
    }

    static byte[] fadt(long dsdtAddress) {
        ByteBuffer b = le(FADT_SIZE);
        b.putInt(40, (int) dsdtAddress);
        b.putShort(109, (short) (IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT));
        b.putInt(112, FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_PWR_BUTTON | FADT_SLP_BUTTON);
        // RESET_REG: Generic Address Structure {SystemIO, 8 bits, offset 0, byte access, port 0x64}
        b.put(116, (byte) 1);
        b.put(117, (byte) 8);
        b.put(118, (byte) 0);
        b.put(119, (byte) 1);
        b.putLong(120, RESET_PORT);
        b.put(128, (byte) RESET_VALUE);
        b.put(131, (byte) 5); // FADT minor version: ACPI 6.5
        b.putLong(140, dsdtAddress);
        b.put(268, "BOXLITE".getBytes(StandardCharsets.US_ASCII)); // hypervisor vendor identity
        return finish(b, "FACP", 6);
    }

    static byte[] madt(Config c) {
        int size = HEADER_SIZE + 8 + 8 * c.vcpus() + 12 + 6;
        ByteBuffer b = le(size);
        b.putInt(36, (int) c.lapicAddress());
        b.putInt(40, 1); // PCAT_COMPAT: the in-kernel dual 8259 exists
        int at = 44;
        for (int i = 0; i < c.vcpus(); i++) {
            b.put(at, (byte) 0).put(at + 1, (byte) 8).put(at + 2, (byte) i).put(at + 3, (byte) i);
            b.putInt(at + 4, 1); // enabled
            at += 8;
        }
        b.put(at, (byte) 1).put(at + 1, (byte) 12).put(at + 2, (byte) c.vcpus()); // IOAPIC, ID after the CPUs'
        b.putInt(at + 4, (int) c.ioapicAddress());
        b.putInt(at + 8, 0); // GSI base
        at += 12;
        b.put(at, (byte) 4).put(at + 1, (byte) 6).put(at + 2, (byte) 0xFF); // local APIC NMI, all CPUs
        b.putShort(at + 3, (short) 0);
        b.put(at + 5, (byte) 1); // LINT1
        return finish(b, "APIC", 6);
    }

    static byte[] dsdt(Config c) {
        List<byte[]> devices = new ArrayList<>();
        devices.add(Aml.device("COM1", Aml.name("_HID", Aml.eisaId("PNP0501")), Aml.name("_UID", Aml.integer(1)),
                Aml.name("_CRS", Aml.resourceTemplate(Aml.io(0x3F8, 8), Aml.irqNoFlags(4)))));
        for (int i = 0; i < c.virtioMmio().size(); i++) {
            MmioDeviceInfo d = c.virtioMmio().get(i);
            devices.add(Aml.device(String.format("V%03X", i), Aml.name("_HID", Aml.string("LNRO0005")),
                    Aml.name("_UID", Aml.integer(i)),
                    Aml.name("_CRS", Aml.resourceTemplate(Aml.memory32Fixed(d.base(), d.size(), true),
                            Aml.extendedInterrupt(d.gsi(), true, false, false)))));
        }
        byte[] body = Aml.scope("\\_SB_", devices.toArray(byte[][]::new));
        ByteBuffer b = le(HEADER_SIZE + body.length);
        b.put(HEADER_SIZE, body);
        return finish(b, "DSDT", 2);
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Fills the standard header and the checksum. */
    private static byte[] finish(ByteBuffer b, String signature, int revision) {
        b.put(0, signature.getBytes(StandardCharsets.US_ASCII));
        b.putInt(4, b.capacity());
        b.put(8, (byte) revision);
        b.put(10, OEM_ID);
        b.put(16, OEM_TABLE_ID);
        b.putInt(24, 1);
        b.put(28, CREATOR_ID);
        b.putInt(32, 1);
        b.put(9, (byte) 0);
        b.put(9, checksum(b.array(), 0, b.capacity()));
        return b.array();
    }

    /** The byte that makes {@code data[from, from + length)} sum to zero. */
    static byte checksum(byte[] data, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += data[i];
        }
        return (byte) -sum;
    }

    private static long align(long v, long a) {
        return (v + a - 1) & -a;
    }
}
