package io.boxlite.engine;

import io.boxlite.EngineKind;
import io.boxlite.EngineUnavailableException;
import io.boxlite.Options;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.guest.Initramfs;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Turns the probe's choice into the engine boxes run on: {@link KvmBoxEngine} (BoxLite's own VMM)
 * where the probe found hardware KVM that boots Linux, or an override asked for KVM; else
 * {@link QemuBoxEngine}, with KVM acceleration when KVM boots Linux and TCG otherwise.
 */
public final class Engines {
    private static final System.Logger LOG = System.getLogger(Engines.class.getName());

    /** What was chosen, with the probe that chose it. */
    public record Choice(BoxEngine engine, ProbeReport probe, String reason) {
    }

    private Engines() {
    }

    /**
     * Probes and builds the chosen engine (and the box initramfs it boots).
     *
     * @throws EngineUnavailableException when KVM is forced ({@link Options#engine()} or
     *                                    {@code BOXLITE_ENGINE}) where KVM cannot boot Linux, or
     *                                    QEMU is chosen but not installed
     */
    public static Choice choose(Options options, BoxliteHome home, Map<String, String> env, EngineProbe probe) {
        ProbeReport report = probe.probe(options);
        boolean hardware = report.kvm().bootsLinux();
        if (report.chosen() == EngineKind.KVM && !hardware) {
            // the probe picks KVM by itself only where it boots Linux, so this is an override
            throw new EngineUnavailableException("The KVM engine cannot run boxes here: " + report.kvm().label()
                    + " cannot boot Linux (" + report.kvmReason() + "). It was forced by " + overrideSource(report)
                    + "; unset it to let the probe choose QEMU, or set BOXLITE_ENGINE=qemu");
        }
        GuestKernel kernel = GuestKernel.locate(options, env);
        Path initramfs = Initramfs.of(kernel, GuestAgentBinary.bytes(), Initramfs.BOX_MODULES, Map.of()).build(home);
        // why: resize2fs and its libraries quadruple the archive (0.45 -> 1.7 MB); only boxes that grow need them
        Supplier<Path> growing = () -> Initramfs.forBoxes(kernel, GuestAgentBinary.bytes()).build(home);
        if (report.chosen() == EngineKind.KVM) {
            String reason = report.choiceReason();
            LOG.log(System.Logger.Level.DEBUG, "box engine kvm: {0}", reason);
            return new Choice(new KvmBoxEngine(kernel.vmlinuz(), initramfs, growing, reason), report, reason);
        }
        Path qemu = HostFacts.findOnPath(HostFacts.QEMU, env.getOrDefault("PATH", "/usr/bin:/bin"))
                .orElseThrow(() -> new EngineUnavailableException(HostFacts.QEMU
                        + " is not on PATH, and the QEMU engine needs it: install qemu-system-x86 (bin/setup)"));
        String reason = report.choiceReason() + (hardware ? "; QEMU uses KVM acceleration" : "");
        return new Choice(new QemuBoxEngine(qemu, hardware, kernel.vmlinuz(), initramfs, growing, reason), report,
                reason);
    }

    private static String overrideSource(ProbeReport report) {
        String reason = report.choiceReason();
        int end = reason.indexOf(" overrides the probe");
        return end > 0 ? reason.substring(0, end) : "an override";
    }
}
