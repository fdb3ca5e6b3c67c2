package io.boxlite.vmm.arch.x86_64.acpi;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Encodings checked against the ACPI 6.5 grammar by hand (iasl checks whole tables in AcpiTablesTest). */
class AmlTest {
    @Test
    void integersUseTheShortestEncoding() {
        assertArrayEquals(new byte[] {0x00}, Aml.integer(0));
        assertArrayEquals(new byte[] {0x01}, Aml.integer(1));
        assertArrayEquals(new byte[] {0x0A, 0x05}, Aml.integer(5));
        assertArrayEquals(new byte[] {0x0B, 0x34, 0x12}, Aml.integer(0x1234));
        assertArrayEquals(new byte[] {0x0C, 0x00, 0x10, 0x00, (byte) 0xC0}, Aml.integer(0xC000_1000L));
        assertEquals(9, Aml.integer(0x1_0000_0000L).length);
    }

    @Test
    void packageLengthCountsItsOwnBytesAcrossTheOneAndTwoByteForms() {
        assertEquals(0x3F, Aml.packageLength(new byte[0x3E])[0]);
        byte[] two = Aml.packageLength(new byte[0x3F]);
        assertEquals(0x3F + 2, (two[0] & 0x0F) | (Byte.toUnsignedInt(two[1]) << 4));
        assertEquals(0x40, two[0] & 0xC0);
        byte[] three = Aml.packageLength(new byte[5000]);
        assertEquals(0x80, three[0] & 0xC0);
        assertEquals(5003, (three[0] & 0x0F) | (Byte.toUnsignedInt(three[1]) << 4) | (Byte.toUnsignedInt(three[2]) << 12));
    }

    @Test
    void namesArePaddedAndPathsPrefixed() {
        assertArrayEquals("_SB_".getBytes(), java.util.Arrays.copyOfRange(Aml.nameString("\\_SB"), 1, 5));
        assertEquals(0x5C, Aml.nameString("\\_SB")[0]);
        assertEquals(0x2E, Aml.nameString("_SB_.V000")[0]);
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("1ABC"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("TOOLONG"));
    }

    @Test
    void eisaIdMatchesTheKnownCompressedForm() {
        // PNP0501 is 0x0105D041 (iasl and every PC BIOS), stored little-endian after DWordPrefix.
        assertArrayEquals(new byte[] {0x0C, 0x41, (byte) 0xD0, 0x05, 0x01}, Aml.eisaId("PNP0501"));
        assertThrows(IllegalArgumentException.class, () -> Aml.eisaId("pnp0501"));
    }
}
