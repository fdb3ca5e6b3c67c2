package io.boxlite.vmm.testguests;

import io.boxlite.NotFoundException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The freestanding test guests built from {@code src/guest/testguests} and packaged in the jar
 * under {@code testguests/}: minimal bzImages booted through the same loader as Linux.
 *
 * {@snippet :
 * byte[] image = TestGuest.BOOT_CHECK.image();
 * }
 */
public enum TestGuest {
    /** Checks zero page, e820, command line, initrd, paging, GDT, CPUID and ACPI from inside; status = failures. */
    BOOT_CHECK("boot-check"),
    /** A write and a read-back on a test device at 0xC0001000; status 0 when the read came from it. */
    MMIO("mmio"),
    /** Two CPUs: the AP, made runnable by the host, reports its APIC ID and stack; status 0 when right. */
    SMP("smp"),
    /** Prints "spinning" and loops without exits: for stop/kick. */
    SPIN("spin"),
    /** Resets through the i8042 as Linux's reboot=k does. */
    RESET("reset"),
    /** Empties the IDT and faults: a triple fault, KVM_EXIT_SHUTDOWN. */
    TRIPLE_FAULT("triple-fault"),
    /** Benchmark guest: "mode=pio|mmio count=N" exits, then done. */
    EXITS("exits"),
    /**
     * A minimal virtio-mmio driver for a block device in the first slot: reads sector 0 (reports
     * its FNV-1a hash), writes sector 1 with {@code (i * 7 + 3) & 0xff}, kicks through QueueNotify,
     * polls the used ring, checks the interrupt status; status = first failed step, 0 when all passed.
     */
    VIRTIO_BLK("virtio-blk");

    private final String guestName;

    TestGuest(String guestName) {
        this.guestName = guestName;
    }

    /** The name used on the command line ({@code boxlite debug guest NAME}). */
    public String guestName() {
        return guestName;
    }

    /** The bzImage bytes. */
    public byte[] image() {
        String resource = "/testguests/" + guestName + ".bzImage";
        try (InputStream in = TestGuest.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new NotFoundException("test guest " + guestName + " is missing from the build (" + resource
                        + "): rebuild with 'mvn package', which runs make in src/guest/testguests");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading test guest " + guestName, e);
        }
    }

    /** The guest of that name, or a NotFoundException listing the names. */
    public static TestGuest named(String name) {
        for (TestGuest g : values()) {
            if (g.guestName.equals(name)) {
                return g;
            }
        }
        throw new NotFoundException("no test guest named '" + name + "'; there are: " + String.join(", ", names()));
    }

    /**
     * An initrd the boot-check guest verifies: "BXINITRD", {@code size - 12} pseudo-random bytes
     * from {@code seed}, then the little-endian 32-bit sum of all bytes before it.
     */
    public static byte[] sampleInitrd(int size, long seed) {
        if (size < 12) {
            throw new IllegalArgumentException("sample initrd needs at least 12 bytes: " + size);
        }
        byte[] b = new byte[size];
        new java.util.Random(seed).nextBytes(b);
        System.arraycopy("BXINITRD".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, b, 0, 8);
        int sum = 0;
        for (int i = 0; i < size - 4; i++) {
            sum += Byte.toUnsignedInt(b[i]);
        }
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(size - 4, sum);
        return b;
    }

    public static List<String> names() {
        return java.util.Arrays.stream(values()).map(TestGuest::guestName).toList();
    }
}
