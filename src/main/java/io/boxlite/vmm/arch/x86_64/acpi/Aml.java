package io.boxlite.vmm.arch.x86_64.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A small encoder of ACPI Machine Language (ACPI 6.5 §20): just what a DSDT describing a few
 * devices needs — scopes, devices, named integers, strings, EISA IDs, and resource templates
 * with fixed memory, extended interrupts, I/O ports and IRQs. Each method returns encoded bytes.
 *
 * {@snippet :
 * byte[] dev = Aml.device("V000", Aml.name("_HID", Aml.string("LNRO0005")),
 *         Aml.name("_CRS", Aml.resourceTemplate(Aml.memory32Fixed(0xC0001000L, 0x1000, true),
 *                 Aml.extendedInterrupt(5, true, false, false))));
 * byte[] body = Aml.scope("\\_SB_", dev);
 * }
 */
public final class Aml {
    private Aml() {
    }

    static final int ZERO_OP = 0x00;
    static final int ONE_OP = 0x01;
    static final int NAME_OP = 0x08;
    static final int BYTE_PREFIX = 0x0A;
    static final int WORD_PREFIX = 0x0B;
    static final int DWORD_PREFIX = 0x0C;
    static final int STRING_PREFIX = 0x0D;
    static final int QWORD_PREFIX = 0x0E;
    static final int SCOPE_OP = 0x10;
    static final int BUFFER_OP = 0x11;
    static final int PACKAGE_OP = 0x12;
    static final int EXT_OP_PREFIX = 0x5B;
    static final int DEVICE_OP = 0x82;
    static final int DUAL_NAME_PREFIX = 0x2E;
    static final int MULTI_NAME_PREFIX = 0x2F;
    static final int ROOT_CHAR = 0x5C;
    static final int PARENT_PREFIX = 0x5E;

    /** Concatenates encoded terms. */
    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** {@code Scope(path) { terms }}. */
    public static byte[] scope(String path, byte[]... terms) {
        return concat(new byte[] {SCOPE_OP}, packageLength(concat(nameString(path), concat(terms))));
    }

    /** {@code Device(name) { terms }}. */
    public static byte[] device(String path, byte[]... terms) {
        return concat(new byte[] {EXT_OP_PREFIX, (byte) DEVICE_OP},
                packageLength(concat(nameString(path), concat(terms))));
    }

    /** {@code Name(name, value)}. */
    public static byte[] name(String path, byte[] value) {
        return concat(new byte[] {NAME_OP}, nameString(path), value);
    }

    /** An integer in its shortest encoding. */
    public static byte[] integer(long value) {
        if (value == 0) {
            return new byte[] {ZERO_OP};
        }
        if (value == 1) {
            return new byte[] {ONE_OP};
        }
        if (value > 0 && value <= 0xFF) {
            return new byte[] {BYTE_PREFIX, (byte) value};
        }
        if (value > 0 && value <= 0xFFFF) {
            return concat(new byte[] {WORD_PREFIX}, le(value, 2));
        }
        if (value > 0 && value <= 0xFFFF_FFFFL) {
            return concat(new byte[] {DWORD_PREFIX}, le(value, 4));
        }
        return concat(new byte[] {QWORD_PREFIX}, le(value, 8));
    }

    /** A NUL-terminated ASCII string constant. */
    public static byte[] string(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x01 || c > 0x7F) {
                throw new IllegalArgumentException("AML strings are ASCII without NUL: " + s);
            }
        }
        return concat(new byte[] {STRING_PREFIX}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    /** {@code EisaId("PNP0501")}: the 32-bit compressed form of a PNP ID. */
    public static byte[] eisaId(String id) {
        if (id.length() != 7 || !id.substring(0, 3).chars().allMatch(c -> c >= 'A' && c <= 'Z')
                || !id.substring(3).chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException("not an EISA ID (three capitals, four hex digits): " + id);
        }
        int v = ((id.charAt(0) - 0x40) << 26) | ((id.charAt(1) - 0x40) << 21) | ((id.charAt(2) - 0x40) << 16)
                | Integer.parseInt(id.substring(3), 16);
        return concat(new byte[] {DWORD_PREFIX}, le(Integer.reverseBytes(v) & 0xFFFF_FFFFL, 4));
    }

    /** {@code Package() { elements }}. */
    public static byte[] packageOf(byte[]... elements) {
        if (elements.length > 255) {
            throw new IllegalArgumentException("package of " + elements.length + " elements");
        }
        return concat(new byte[] {PACKAGE_OP}, packageLength(concat(new byte[] {(byte) elements.length},
                concat(elements))));
    }

    /** {@code Buffer() { bytes }}. */
    public static byte[] buffer(byte[] bytes) {
        return concat(new byte[] {BUFFER_OP}, packageLength(concat(integer(bytes.length), bytes)));
    }

    /** {@code ResourceTemplate() { descriptors }}: a buffer ending in an End Tag. */
    public static byte[] resourceTemplate(byte[]... descriptors) {
        return buffer(concat(concat(descriptors), new byte[] {0x79, 0})); // End Tag, checksum 0 = "valid"
    }

    /** {@code Memory32Fixed(ReadWrite|ReadOnly, base, length)} (large item 0x86). */
    public static byte[] memory32Fixed(long base, long length, boolean readWrite) {
        return concat(new byte[] {(byte) 0x86, 9, 0, (byte) (readWrite ? 1 : 0)}, le(base, 4), le(length, 4));
    }

    /** {@code Interrupt(ResourceConsumer, Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) {gsi}} (large item 0x89). */
    public static byte[] extendedInterrupt(long gsi, boolean edge, boolean activeLow, boolean shared) {
        int flags = 1 | (edge ? 2 : 0) | (activeLow ? 4 : 0) | (shared ? 8 : 0); // bit 0: consumer
        return concat(new byte[] {(byte) 0x89, 6, 0, (byte) flags, 1}, le(gsi, 4));
    }

    /** {@code IO(Decode16, base, base, 1, length)} (small item 0x47). */
    public static byte[] io(int base, int length) {
        return concat(new byte[] {0x47, 1}, le(base, 2), le(base, 2), new byte[] {1, (byte) length});
    }

    /** {@code IRQNoFlags() {irq}} (small item 0x22). */
    public static byte[] irqNoFlags(int irq) {
        if (irq < 0 || irq > 15) {
            throw new IllegalArgumentException("ISA IRQ out of range: " + irq);
        }
        return concat(new byte[] {0x22}, le(1L << irq, 2));
    }

    /** A NameString: optional root or parent prefixes, then 1..n four-character segments. */
    static byte[] nameString(String path) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        if (path.startsWith("\\")) {
            out.write(ROOT_CHAR);
            i = 1;
        } else {
            while (i < path.length() && path.charAt(i) == '^') {
                out.write(PARENT_PREFIX);
                i++;
            }
        }
        String rest = path.substring(i);
        String[] segments = rest.isEmpty() ? new String[0] : rest.split("\\.");
        if (segments.length == 0) {
            out.write(0); // NullName
        } else if (segments.length == 2) {
            out.write(DUAL_NAME_PREFIX);
        } else if (segments.length > 2) {
            out.write(MULTI_NAME_PREFIX);
            out.write(segments.length);
        }
        for (String s : segments) {
            out.writeBytes(nameSeg(s));
        }
        return out.toByteArray();
    }

    private static byte[] nameSeg(String s) {
        if (s.isEmpty() || s.length() > 4) {
            throw new IllegalArgumentException("AML name segment must be 1–4 characters: \"" + s + "\"");
        }
        String padded = (s + "___").substring(0, 4);
        for (int i = 0; i < 4; i++) {
            char c = padded.charAt(i);
            boolean ok = c == '_' || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
            if (!ok) {
                throw new IllegalArgumentException("bad AML name segment \"" + s + "\"");
            }
        }
        return padded.getBytes(StandardCharsets.US_ASCII);
    }

    /** Prefixes {@code body} with its PkgLength (which counts its own bytes). */
    static byte[] packageLength(byte[] body) {
        int n = body.length;
        byte[] head;
        if (n + 1 < 0x40) {
            head = new byte[] {(byte) (n + 1)};
        } else if (n + 2 < 0x1000) {
            int t = n + 2;
            head = new byte[] {(byte) (0x40 | (t & 0xF)), (byte) (t >> 4)};
        } else if (n + 3 < 0x10_0000) {
            int t = n + 3;
            head = new byte[] {(byte) (0x80 | (t & 0xF)), (byte) (t >> 4), (byte) (t >> 12)};
        } else if (n + 4 < 0x1000_0000) {
            int t = n + 4;
            head = new byte[] {(byte) (0xC0 | (t & 0xF)), (byte) (t >> 4), (byte) (t >> 12), (byte) (t >> 20)};
        } else {
            throw new IllegalArgumentException("AML package too large: " + n + " bytes");
        }
        return concat(head, body);
    }

    static byte[] le(long value, int bytes) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        return b;
    }
}
