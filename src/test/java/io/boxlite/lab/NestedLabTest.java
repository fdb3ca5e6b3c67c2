package io.boxlite.lab;

import io.boxlite.Options;
import io.boxlite.engine.EngineProbe;
import io.boxlite.engine.KvmSupport;
import io.boxlite.kernel.GuestKernel;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * BoxLite's VMM boots the real Debian kernel — 1 and 2 vCPUs, to a userspace marker and the
 * guest's own exit — and serves a box on the KVM engine (the agent as init, our virtio-blk and
 * virtio-vsock on virtio-mmio), and runs the SDK on it (Boxlite.open picks the KVM engine; a box from
 * an OCI layout through SimpleBox execs echo and stops by itself): inside the nested lab (QEMU TCG with emulated SVM) on hosts
 * whose /dev/kvm cannot boot Linux, such as these KVM-PVM machines, and directly where the probe
 * reports hardware KVM. Slow (minutes): tagged "lab"; {@code -DexcludedGroups=lab} skips it.
 */
@Tag("lab")
class NestedLabTest {
    private static final Path LOG = Path.of("target", "lab", "nested-lab-test.log");

    @Test
    void ourVmmBootsDebianOnOneAndTwoVcpusAndServesABoxOnTheKvmEngineThroughTheSdk() throws Exception {
        Outcome outcome = hardwareKvm() ? direct() : nested();
        for (String phase : Lab.DEFAULT_PHASES) {
            Optional<LabRun.Verdict> v = outcome.verdicts().stream().filter(x -> x.phase().equals(phase)).findFirst();
            assertTrue(v.isPresent(), () -> "no verdict for " + phase + "\n" + outcome.console());
            assertTrue(v.get().passed(), () -> phase + " failed: " + v.get().facts() + "\n--- lab console ---\n"
                    + outcome.console());
        }
        LabRun.Verdict boot2 = outcome.verdicts().stream().filter(x -> x.phase().equals("boot:2")).findFirst().orElseThrow();
        assertTrue(boot2.facts().contains("reported_cpus=2"), "the inner init saw both CPUs: " + boot2.facts());
        assertTrue(boot2.facts().contains("exit=GuestReset"), "the guest's reboot=k reset ended the VM: " + boot2.facts());
        LabRun.Verdict box = outcome.verdicts().stream().filter(x -> x.phase().equals("box")).findFirst().orElseThrow();
        assertTrue(box.facts().contains("token_on_disk=yes"), box.facts());
        LabRun.Verdict sdk = outcome.verdicts().stream().filter(x -> x.phase().equals("sdk")).findFirst().orElseThrow();
        assertTrue(sdk.facts().startsWith("engine=kvm "), "Boxlite.open chose the KVM engine: " + sdk.facts());
        assertTrue(sdk.facts().contains("stage_box_spawn_ms="), "the box host recorded its stages: " + sdk.facts());
    }

    private record Outcome(List<LabRun.Verdict> verdicts, String console) {
    }

    private static boolean hardwareKvm() {
        try {
            return EngineProbe.forThisHost().probe().kvm() == KvmSupport.HARDWARE;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Hardware KVM here: the same phases in this JVM. */
    private static Outcome direct() {
        System.out.println("*** NestedLabTest: this host has hardware KVM; running the lab phases directly ***");
        Path dir = LabImage.directLabDir(GuestKernel.locate(Options.defaults()), LabImage.defaultCacheDir());
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(new Tee(console, System.out), true, StandardCharsets.UTF_8);
        LabInside lab = new LabInside(dir, out);
        for (String phase : Lab.DEFAULT_PHASES) {
            lab.phase(phase);
        }
        String text = console.toString(StandardCharsets.UTF_8);
        List<LabRun.Verdict> verdicts = new ArrayList<>();
        for (String line : text.split("\n")) {
            LabRun.parse(line, verdicts, new ArrayList<>());
        }
        return new Outcome(verdicts, text);
    }

    /** Anything else: inside the nested lab. */
    private static Outcome nested() throws InterruptedException {
        List<String> missing = LabImage.missingTools(false);
        if (!missing.isEmpty()) {
            System.err.println("*** SKIPPING the nested lab: missing " + missing + " (bin/setup installs them) ***");
        }
        assumeTrue(missing.isEmpty(), "the nested lab needs " + missing);
        LabRun.Report r = Lab.run(Lab.DEFAULT_PHASES, LOG, line -> {
            if (line.startsWith("LAB-")) {
                System.out.println(line);
            }
        });
        System.out.printf("nested lab: %s in %d s, %d attempt(s), host load %s -> %s, log %s%n",
                r.completed() ? "completed" : "stalled", r.wall().toSeconds(), r.attempts(), r.hostLoadBefore(),
                r.hostLoadAfter(), r.log().toAbsolutePath());
        assertTrue(r.completed(), () -> "the lab did not complete: " + r.problem() + "\n--- lab console ---\n"
                + r.console());
        return new Outcome(r.verdicts(), r.console());
    }

    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int x) throws java.io.IOException {
            a.write(x);
            b.write(x);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }
    }
}
