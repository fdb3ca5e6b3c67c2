package io.boxlite.vmm.arch.x86_64.acpi;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The tables, read back by ACPICA's own disassembler (iasl, from acpica-tools, installed by bin/setup). */
class AcpiTablesTest {
    private static final AcpiTables.Config CONFIG = new AcpiTables.Config(2, 0xFEC0_0000L, 0xFEE0_0000L,
            List.of(new MmioDeviceInfo(0xC000_1000L, 0x1000, 5), new MmioDeviceInfo(0xC000_2000L, 0x1000, 6)));

    @TempDir
    Path dir;

    private String disassemble(String name, byte[] table) throws IOException, InterruptedException {
        Path iasl = Path.of("/usr/bin/iasl");
        if (!Files.isExecutable(iasl)) {
            System.err.println("*** SKIPPING ACPI DISASSEMBLY CHECK: /usr/bin/iasl missing (apt-get install acpica-tools; bin/setup does) ***");
        }
        assumeTrue(Files.isExecutable(iasl), "iasl (acpica-tools) is not installed");
        Path file = dir.resolve(name + ".dat");
        Files.write(file, table);
        Process p = new ProcessBuilder(iasl.toString(), "-d", file.toString()).directory(dir.toFile())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), log);
        String dsl = Files.readString(dir.resolve(name + ".dsl")).replaceAll("\\s+", " ");
        assertFalse(dsl.contains("Incorrect checksum") || log.contains("Incorrect checksum"), dsl);
        return dsl;
    }

    @Test
    void theDsdtDescribesEachVirtioMmioTransportAsAnLnro0005DeviceWithMemoryAndEdgeInterrupt() throws Exception {
        String dsl = disassemble("dsdt", AcpiTables.dsdt(CONFIG));
        assertTrue(dsl.contains("Scope (\\_SB) {"), dsl);
        assertTrue(dsl.contains("Device (V000) { Name (_HID, \"LNRO0005\") // _HID: Hardware ID Name (_UID, Zero)"), dsl);
        assertTrue(dsl.contains("Memory32Fixed (ReadWrite, 0xC0001000, // Address Base 0x00001000, // Address Length )"), dsl);
        assertTrue(dsl.contains("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000005, }"), dsl);
        assertTrue(dsl.contains("Device (V001)") && dsl.contains("0xC0002000") && dsl.contains("0x00000006,"), dsl);
        assertTrue(dsl.contains("Device (COM1) { Name (_HID, EisaId (\"PNP0501\")"), dsl);
        assertTrue(dsl.contains("IO (Decode16, 0x03F8, // Range Minimum 0x03F8, // Range Maximum 0x01, // Alignment 0x08, // Length )"), dsl);
        assertTrue(dsl.contains("IRQNoFlags () {4}"), dsl);
    }

    @Test
    void theFadtIsHardwareReducedWithTheI8042AsResetRegister() throws Exception {
        String dsl = disassemble("facp", AcpiTables.fadt(0xE0040));
        assertTrue(dsl.contains("Hardware Reduced (V5) : 1"), dsl);
        assertTrue(dsl.contains("Reset Register Supported (V2) : 1"), dsl);
        assertTrue(dsl.contains("Reset Register : [Generic Address Structure] [074h 0116 1] Space ID : 01 [SystemIO]"), dsl);
        assertTrue(dsl.contains("Address : 0000000000000064"), dsl);
        assertTrue(dsl.contains("Value to cause reset : FE"), dsl);
        assertTrue(dsl.contains("DSDT Address : 000E0040") && dsl.contains("DSDT Address : 00000000000E0040"), dsl);
    }

    @Test
    void theMadtListsOneEnabledLocalApicPerVcpuAndTheIoapic() throws Exception {
        String dsl = disassemble("apic", AcpiTables.madt(CONFIG));
        assertTrue(dsl.contains("Local Apic Address : FEE00000"), dsl);
        assertEquals(2, dsl.split("Subtable Type : 00 \\[Processor Local APIC\\]").length - 1, dsl);
        assertTrue(dsl.contains("Local Apic ID : 01"), dsl);
        assertTrue(dsl.contains("Subtable Type : 01 [I/O APIC]") && dsl.contains("Address : FEC00000"), dsl);
        assertTrue(dsl.contains("Subtable Type : 04 [Local APIC NMI]"), dsl);
    }

    @Test
    void rsdpAndXsdtChainToTheTablesWithValidChecksums() {
        try (GuestMemory m = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 1 << 20)))) {
            long rsdp = AcpiTables.write(m, 0xE0000, 0x20000, CONFIG);
            byte[] r = m.read(GuestAddress.of(rsdp), 36);
            assertEquals("RSD PTR ", new String(r, 0, 8, StandardCharsets.US_ASCII));
            assertEquals(0, sum(r, 20));
            assertEquals(0, sum(r, 36));
            long xsdt = ByteBuffer.wrap(r).order(ByteOrder.LITTLE_ENDIAN).getLong(24);
            int xlen = m.readInt(GuestAddress.of(xsdt + 4));
            byte[] x = m.read(GuestAddress.of(xsdt), xlen);
            assertEquals("XSDT", new String(x, 0, 4, StandardCharsets.US_ASCII));
            assertEquals(0, sum(x, xlen));
            for (int i = 36; i < xlen; i += 8) {
                long t = ByteBuffer.wrap(x).order(ByteOrder.LITTLE_ENDIAN).getLong(i);
                int len = m.readInt(GuestAddress.of(t + 4));
                assertEquals(0, sum(m.read(GuestAddress.of(t), len), len), "table at 0x" + Long.toHexString(t));
            }
        }
    }

    @Test
    void tablesThatDoNotFitTheReservedAreaAreRefused() {
        try (GuestMemory m = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 1 << 20)))) {
            assertThrows(IllegalArgumentException.class, () -> AcpiTables.write(m, 0xE0000, 256, CONFIG));
        }
    }

    private static int sum(byte[] b, int n) {
        int s = 0;
        for (int i = 0; i < n; i++) {
            s += b[i];
        }
        return s & 0xFF;
    }
}
