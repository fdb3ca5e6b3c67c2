package io.boxlite.engine;

import io.boxlite.EngineKind;
import io.boxlite.EngineUnavailableException;
import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Which engine boxes get for each probe outcome, and why; a forced KVM where it cannot boot Linux is refused. */
class EnginesTest {
    private static final Optional<Path> QEMU_PATH = Optional.of(Path.of("/usr/bin/qemu-system-x86_64"));
    private static final Optional<String> QEMU_VERSION = Optional.of("QEMU emulator version 7.2.19");
    private static final HostFacts PVM_HOST = new HostFacts(true, true, true, Optional.empty(), QEMU_PATH, QEMU_VERSION);
    private static final HostFacts HARDWARE_HOST =
            new HostFacts(true, true, false, Optional.of("svm"), QEMU_PATH, QEMU_VERSION);
    private static final KvmFunctionalCheck PASSES = Optional::empty;
    private static final KvmFunctionalCheck EMULATOR_FAILS =
            () -> Optional.of("KVM could not execute the test guest's popcnt instruction (KVM_EXIT_INTERNAL_ERROR)");
    private static final Map<String, String> PATH_ENV = Map.of("PATH", "/usr/bin:/bin");

    @TempDir
    Path tmp;

    @BeforeAll
    static void kernelIsInstalled() {
        boolean present;
        try {
            GuestKernel.locate(Options.defaults());
            present = true;
        } catch (RuntimeException e) {
            present = false;
            System.err.println("*** SKIPPING EnginesTest: the guest kernel is missing (bin/fetch-kernel) ***");
        }
        assumeTrue(present, "the engines build the box initramfs from the guest kernel (bin/fetch-kernel)");
    }

    private Engines.Choice choose(HostFacts host, KvmFunctionalCheck check, Map<String, String> env, Options options) {
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build()).open();
        return Engines.choose(options, home, env, new EngineProbe(() -> host, check, env));
    }

    @Test
    void hardwareKvmThatBootsLinuxGetsTheKvmEngine() {
        Engines.Choice c = choose(HARDWARE_HOST, PASSES, PATH_ENV, Options.defaults());

        assertInstanceOf(KvmBoxEngine.class, c.engine());
        assertEquals("kvm", c.engine().name());
        assertEquals(EngineKind.KVM, c.probe().chosen());
        assertTrue(c.reason().contains("hardware KVM works"), c.reason());
        assertEquals(c.reason(), c.engine().reason());
    }

    @Test
    void pvmHostGetsQemuWithTcgAndSaysWhy() {
        Engines.Choice c = choose(PVM_HOST, EMULATOR_FAILS, PATH_ENV, Options.defaults());

        assertInstanceOf(QemuBoxEngine.class, c.engine());
        assertEquals("qemu-tcg", c.engine().name());
        assertTrue(c.reason().contains("KVM cannot boot Linux here (KVM-PVM)"), c.reason());
    }

    @Test
    void forcingQemuOnHardwareKvmRunsQemuWithKvmAcceleration() {
        Engines.Choice c = choose(HARDWARE_HOST, PASSES, PATH_ENV, Options.builder().engine(EngineKind.QEMU).build());

        assertEquals("qemu-kvm", c.engine().name());
        assertTrue(c.reason().contains("Options.engine qemu overrides the probe"), c.reason());
        assertTrue(c.reason().contains("KVM acceleration"), c.reason());
    }

    @Test
    void forcingKvmThroughTheEnvironmentOnPvmFailsNamingTheProbesReason() {
        Map<String, String> env = Map.of("PATH", "/usr/bin:/bin", "BOXLITE_ENGINE", "kvm");

        EngineUnavailableException e = assertThrows(EngineUnavailableException.class,
                () -> choose(PVM_HOST, EMULATOR_FAILS, env, Options.defaults()));

        assertTrue(e.getMessage().contains("KVM-PVM cannot boot Linux"), e.getMessage());
        assertTrue(e.getMessage().contains("/dev/kvm is provided by kvm_pvm"), e.getMessage());
        assertTrue(e.getMessage().contains("popcnt"), "the functional check's evidence: " + e.getMessage());
        assertTrue(e.getMessage().contains("forced by BOXLITE_ENGINE=kvm"), e.getMessage());
        assertTrue(e.getMessage().contains("BOXLITE_ENGINE=qemu"), "says what to do: " + e.getMessage());
    }

    @Test
    void forcingKvmThroughOptionsWhereTheCheckFailsIsRefusedToo() {
        HostFacts unusable = new HostFacts(true, true, false, Optional.of("vmx"), QEMU_PATH, QEMU_VERSION);

        EngineUnavailableException e = assertThrows(EngineUnavailableException.class,
                () -> choose(unusable, EMULATOR_FAILS, PATH_ENV, Options.builder().engine(EngineKind.KVM).build()));

        assertTrue(e.getMessage().contains("/dev/kvm unusable cannot boot Linux"), e.getMessage());
        assertTrue(e.getMessage().contains("forced by Options.engine kvm"), e.getMessage());
    }

    @Test
    void qemuChosenButMissingIsAnEngineError() {
        EngineUnavailableException e = assertThrows(EngineUnavailableException.class,
                () -> choose(PVM_HOST, EMULATOR_FAILS, Map.of("PATH", tmp.toString(), "BOXLITE_ENGINE", "qemu"),
                        Options.defaults()));

        assertTrue(e.getMessage().contains("qemu-system-x86_64 is not on PATH"), e.getMessage());
    }
}
