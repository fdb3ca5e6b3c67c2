package io.boxlite.engine;

import io.boxlite.BoxliteException;
import io.boxlite.EngineKind;
import io.boxlite.ErrorCode;
import io.boxlite.Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class EngineProbeTest {
    private static final Optional<Path> QEMU_PATH = Optional.of(Path.of("/usr/bin/qemu-system-x86_64"));
    private static final Optional<String> QEMU_VERSION =
            Optional.of("QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)");

    // The host shapes.
    private static final HostFacts PVM_HOST =
            new HostFacts(true, true, true, Optional.empty(), QEMU_PATH, QEMU_VERSION);
    private static final HostFacts HARDWARE_HOST =
            new HostFacts(true, true, false, Optional.of("vmx"), QEMU_PATH, QEMU_VERSION);
    private static final HostFacts NO_KVM_HOST =
            new HostFacts(false, false, false, Optional.empty(), QEMU_PATH, QEMU_VERSION);
    private static final HostFacts NO_PERMISSION_HOST =
            new HostFacts(true, false, false, Optional.of("svm"), QEMU_PATH, QEMU_VERSION);

    private static final KvmFunctionalCheck PASSES = Optional::empty;
    private static final KvmFunctionalCheck MUST_NOT_RUN = () -> fail("the functional check must not run here");
    private static final KvmFunctionalCheck EMULATOR_FAILS =
            () -> Optional.of("KVM could not execute the test guest's popcnt instruction (KVM_EXIT_INTERNAL_ERROR)");

    private static ProbeReport probe(HostFacts host, KvmFunctionalCheck check, Map<String, String> env) {
        return new EngineProbe(() -> host, check, env).probe(Options.defaults());
    }

    private static HostFacts withoutQemu(HostFacts host) {
        return new HostFacts(host.kvmExists(), host.kvmReadWrite(), host.pvmModule(), host.cpuVirtFlag(),
                Optional.empty(), Optional.empty());
    }

    @Test
    void pvmHostFallsBackToQemu() {
        ProbeReport report = probe(PVM_HOST, EMULATOR_FAILS, Map.of());

        assertEquals(KvmSupport.PVM, report.kvm());
        assertTrue(report.kvmReason().contains("/dev/kvm is provided by kvm_pvm"), report.kvmReason());
        assertTrue(report.kvmReason().contains("stock Linux guests cannot boot through it"), report.kvmReason());
        assertTrue(report.kvmReason().contains("no vmx/svm"), report.kvmReason());
        assertTrue(report.kvmReason().contains("a test guest confirms it: KVM could not execute"), report.kvmReason());
        assertTrue(report.qemuAvailable());
        assertEquals(EngineKind.QEMU, report.chosen());
        assertTrue(report.choiceReason().contains("KVM-PVM"), report.choiceReason());
        assertTrue(report.choiceReason().contains("TCG"), report.choiceReason());
    }

    @Test
    void noKvmDeviceFallsBackToQemu() {
        ProbeReport report = probe(NO_KVM_HOST, MUST_NOT_RUN, Map.of());

        assertEquals(KvmSupport.ABSENT, report.kvm());
        assertTrue(report.kvmReason().startsWith("/dev/kvm does not exist"), report.kvmReason());
        assertTrue(report.kvmReason().contains("nested virtualization"), report.kvmReason());
        assertEquals(EngineKind.QEMU, report.chosen());
    }

    @Test
    void noKvmDeviceButVirtFlagsSuggestsLoadingTheModule() {
        var host = new HostFacts(false, false, false, Optional.of("svm"), QEMU_PATH, QEMU_VERSION);
        ProbeReport report = probe(host, MUST_NOT_RUN, Map.of());

        assertTrue(report.kvmReason().contains("kvm_amd"), report.kvmReason());
    }

    @Test
    void noPermissionSaysHowToFixIt() {
        ProbeReport report = probe(NO_PERMISSION_HOST, MUST_NOT_RUN, Map.of());

        assertEquals(KvmSupport.UNUSABLE, report.kvm());
        assertTrue(report.kvmReason().contains("add your user to the 'kvm' group or run as root"), report.kvmReason());
        assertTrue(report.kvmReason().contains("ls -l /dev/kvm"), report.kvmReason());
        assertEquals(EngineKind.QEMU, report.chosen());
    }

    @Test
    void hardwareWithPassingCheckChoosesKvm() {
        var calls = new AtomicInteger();
        ProbeReport report = probe(HARDWARE_HOST, () -> {
            calls.incrementAndGet();
            return Optional.empty();
        }, Map.of());

        assertEquals(1, calls.get());
        assertEquals(KvmSupport.HARDWARE, report.kvm());
        assertTrue(report.kvmReason().contains("vmx"), report.kvmReason());
        assertEquals(EngineKind.KVM, report.chosen());
        assertTrue(report.choiceReason().contains("hardware KVM works"), report.choiceReason());
    }

    @Test
    void hardwareWithFailingCheckFallsBackToQemu() {
        ProbeReport report = probe(HARDWARE_HOST,
                () -> Optional.of("KVM_EXIT_INTERNAL_ERROR (emulation failure) at cmpxchg16b"), Map.of());

        assertEquals(KvmSupport.UNUSABLE, report.kvm());
        assertTrue(report.kvmReason().contains("a test guest failed"), report.kvmReason());
        assertTrue(report.kvmReason().contains("emulation failure"), report.kvmReason());
        assertEquals(EngineKind.QEMU, report.chosen());
    }

    @Test
    void checkThatThrowsIsAFailureWithItsMessage() {
        ProbeReport report = probe(HARDWARE_HOST, () -> {
            throw new IllegalStateException("KVM_CREATE_VM: Cannot allocate memory");
        }, Map.of());

        assertEquals(KvmSupport.UNUSABLE, report.kvm());
        assertTrue(report.kvmReason().contains("IllegalStateException: KVM_CREATE_VM: Cannot allocate memory"),
                report.kvmReason());
    }

    @Test
    void environmentOverrideWinsAndIsNamed() {
        ProbeReport report = probe(PVM_HOST, EMULATOR_FAILS, Map.of("BOXLITE_ENGINE", "KVM"));

        assertEquals(EngineKind.KVM, report.chosen());
        assertTrue(report.choiceReason().startsWith("BOXLITE_ENGINE=KVM overrides the probe"), report.choiceReason());
        assertTrue(report.choiceReason().contains("warning: KVM cannot boot Linux here (KVM-PVM)"),
                report.choiceReason());
        assertEquals(KvmSupport.PVM, report.kvm());
    }

    @Test
    void optionsOverrideBeatsTheEnvironment() {
        var probe = new EngineProbe(() -> HARDWARE_HOST, PASSES, Map.of("BOXLITE_ENGINE", "kvm"));
        ProbeReport report = probe.probe(Options.builder().engine(EngineKind.QEMU).build());

        assertEquals(EngineKind.QEMU, report.chosen());
        assertEquals("Options.engine qemu overrides the probe", report.choiceReason());
    }

    @Test
    void overrideToMissingQemuWarns() {
        ProbeReport report = probe(withoutQemu(HARDWARE_HOST), PASSES, Map.of("BOXLITE_ENGINE", "qemu"));

        assertEquals(EngineKind.QEMU, report.chosen());
        assertTrue(report.choiceReason().contains("QEMU is not available"), report.choiceReason());
    }

    @Test
    void unknownOverrideIsAnInvalidArgument() {
        var e = assertThrows(BoxliteException.class, () -> probe(PVM_HOST, EMULATOR_FAILS, Map.of("BOXLITE_ENGINE", "xen")));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().startsWith("BOXLITE_ENGINE: "), e.getMessage());
    }

    @Test
    void neitherEngineThrowsWithReasonsAndFix() {
        var e = assertThrows(BoxliteException.class, () -> probe(withoutQemu(PVM_HOST), EMULATOR_FAILS, Map.of()));

        assertEquals(ErrorCode.ENGINE, e.code());
        assertTrue(e.getMessage().startsWith("Neither engine can run a guest here"), e.getMessage());
        assertTrue(e.getMessage().contains("kvm_pvm"), e.getMessage());
        assertTrue(e.getMessage().contains("qemu-system-x86_64 is not on PATH"), e.getMessage());
        assertTrue(e.getMessage().contains("apt-get install qemu-system-x86"), e.getMessage());
        assertFalse(e.getMessage().contains("enable hardware KVM"), "KVM-PVM cannot be enabled: " + e.getMessage());
    }

    @Test
    void neitherEngineWithoutKvmAlsoSuggestsEnablingIt() {
        var e = assertThrows(BoxliteException.class, () -> probe(withoutQemu(NO_KVM_HOST), MUST_NOT_RUN, Map.of()));
        assertTrue(e.getMessage().contains("enable hardware KVM"), e.getMessage());
    }

    @Test
    void qemuThatDoesNotAnswerIsNotAvailable() {
        var host = new HostFacts(true, true, true, Optional.empty(), QEMU_PATH, Optional.empty());
        assertThrows(BoxliteException.class, () -> probe(host, MUST_NOT_RUN, Map.of()));
    }

    @Test
    void renderShowsEveryVerdict() {
        String text = probe(PVM_HOST, EMULATOR_FAILS, Map.of()).render();

        assertTrue(text.startsWith("KVM:    KVM-PVM (cannot boot Linux)\n"), text);
        assertTrue(text.contains("QEMU:   available\n        " + QEMU_VERSION.get()), text);
        assertTrue(text.contains("Engine: qemu\n"), text);
        assertEquals(6, text.lines().count(), text);
    }

    @Test
    void cpuinfoFlagsAreRead(@TempDir Path tmp) throws IOException {
        Path cpuinfo = tmp.resolve("cpuinfo");
        Files.writeString(cpuinfo, "processor\t: 0\nflags\t\t: fpu vme de pse svm sse\n\nflags\t: vmx\n");
        assertEquals(Optional.of("svm"), HostFacts.cpuVirtFlag(cpuinfo));

        Files.writeString(cpuinfo, "processor\t: 0\nflags\t\t: fpu vme de pse sse\n");
        assertEquals(Optional.empty(), HostFacts.cpuVirtFlag(cpuinfo));
        assertEquals(Optional.empty(), HostFacts.cpuVirtFlag(tmp.resolve("absent")));
    }

    @Test
    void pathLookupFindsOnlyExecutables(@TempDir Path tmp) throws IOException {
        Path a = Files.createDirectories(tmp.resolve("a"));
        Path b = Files.createDirectories(tmp.resolve("b"));
        Files.writeString(a.resolve("tool"), "not executable");
        Path good = Files.writeString(b.resolve("tool"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(good, PosixFilePermissions.fromString("rwxr-xr-x"));

        assertEquals(Optional.of(good), HostFacts.findOnPath("tool", ":" + a + "::" + b));
        assertEquals(Optional.empty(), HostFacts.findOnPath("tool", a.toString()));
    }

    /** On this host, whatever it is, the probe either decides or says why it cannot. */
    @Test
    void thisHostProbesWithoutSurprises() {
        HostFacts facts = HostFacts.read(System.getenv());
        try {
            ProbeReport report = new EngineProbe(() -> facts, PASSES, Map.of()).probe();
            assertEquals(facts.pvmModule() && facts.kvmExists(), report.kvm() == KvmSupport.PVM, report.render());
            System.out.print(report.render());
        } catch (BoxliteException e) {
            assertEquals(ErrorCode.ENGINE, e.code());
        }
    }
}
