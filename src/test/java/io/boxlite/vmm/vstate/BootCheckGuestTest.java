package io.boxlite.vmm.vstate;

import io.boxlite.kvm.EnabledIfKvmAvailable;
import io.boxlite.vmm.arch.x86_64.E820;
import io.boxlite.vmm.arch.x86_64.acpi.MmioDeviceInfo;
import io.boxlite.vmm.testguests.TestGuest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The boot-check guest verifies every boot structure from inside (its exit status counts the
 * failed checks) and reports the facts only the host knows the truth of, compared here.
 */
@EnabledIfKvmAvailable
class BootCheckGuestTest {
    private static final Pattern FACT = Pattern.compile("^fact (\\S+) (.*)$", Pattern.MULTILINE);

    static byte[] initrd(int size, long seed) {
        return TestGuest.sampleInitrd(size, seed);
    }

    static long fnv1a(byte[] b) {
        int h = 0x811C9DC5;
        for (byte x : b) {
            h ^= Byte.toUnsignedInt(x);
            h *= 16777619;
        }
        return Integer.toUnsignedLong(h);
    }

    private static List<String[]> facts(String console, String key) {
        List<String[]> out = new ArrayList<>();
        Matcher m = FACT.matcher(console);
        while (m.find()) {
            if (m.group(1).equals(key)) {
                out.add(m.group(2).split(" "));
            }
        }
        return out;
    }

    private static long hex(String s) {
        return Long.parseUnsignedLong(s.substring(2), 16);
    }

    @ParameterizedTest(name = "{0} vCPU(s)")
    @ValueSource(ints = {1, 2})
    void everyBootStructureChecksOutFromInsideAndMatchesWhatTheHostGave(int vcpus) throws Exception {
        byte[] initrd = initrd(6000 + vcpus, 42 + vcpus);
        String cmdline = "console=ttyS0 reboot=k testguest=boot-check vcpus=" + vcpus;
        TestGuestRun run = TestGuestRun.run(TestGuest.BOOT_CHECK, b -> b.initrd(initrd).vcpus(vcpus)
                .cmdline(cmdline).memoryMib(96).apStart(VmConfig.ApStart.RUNNABLE_AT_ENTRY)
                .virtioMmio(new MmioDeviceInfo(0xC000_1000L, 0x1000, 5)), vm -> { });
        assertEquals(new VmExit.GuestStatus(0), run.exit(), run.describe());
        assertTrue(run.console().contains("check acpi.madt.lapics ok"), run.describe());
        assertEquals("\"" + cmdline + "\"", String.join(" ", facts(run.console(), "cmdline").getFirst()));
        assertEquals(initrd.length, hex(facts(run.console(), "initrd.size").getFirst()[0]));
        assertEquals(fnv1a(initrd), hex(facts(run.console(), "initrd.fnv1a").getFirst()[0]), "initrd bytes");
        long initrdAt = hex(facts(run.console(), "initrd.address").getFirst()[0]);
        assertEquals(0, initrdAt % 4096);
        assertTrue(initrdAt + initrd.length <= 96L << 20 && initrdAt + initrd.length > (96L << 20) - 8192,
                "initrd at the top of RAM: 0x" + Long.toHexString(initrdAt));
        assertEquals(vcpus, hex(facts(run.console(), "cpuid.count").getFirst()[0]));
        List<String[]> e820 = facts(run.console(), "e820");
        List<E820.Entry> expected = List.of(new E820.Entry(0, 0x9FC00, 1), new E820.Entry(0x9FC00, 0x60400, 2),
                new E820.Entry(0x10_0000, (96L << 20) - 0x10_0000, 1));
        assertEquals(expected, e820.stream().map(f -> new E820.Entry(hex(f[0]), hex(f[1]), Integer.parseInt(f[2])))
                .toList());
    }

    @Test
    void aMissingInitrdIsReportedAsAFailedCheck() throws Exception {
        TestGuestRun run = TestGuestRun.run(TestGuest.BOOT_CHECK,
                b -> b.virtioMmio(new MmioDeviceInfo(0xC000_1000L, 0x1000, 5)), vm -> { });
        assertEquals(new VmExit.GuestStatus(1), run.exit(), run.describe());
        assertTrue(run.console().contains("check initrd.present FAIL"), run.describe());
    }
}
