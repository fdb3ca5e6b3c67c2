package io.boxlite.engine;

import io.boxlite.BoxliteException;
import io.boxlite.EngineKind;
import io.boxlite.ErrorCode;
import io.boxlite.Options;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.guest.Initramfs;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Picks the engine boxes run on from the probe's choice. The KVM engine's box path is not built
 * yet, so a probe that chooses KVM falls back to QEMU with KVM acceleration, and says so.
 */
public final class Engines {
    private static final System.Logger LOG = System.getLogger(Engines.class.getName());

    /** What was chosen, with the probe that chose it. */
    public record Choice(BoxEngine engine, ProbeReport probe, String reason) {
    }

    private Engines() {
    }

    public static Choice choose(Options options, BoxliteHome home, Map<String, String> env, EngineProbe probe) {
        ProbeReport report = probe.probe(options);
        GuestKernel kernel = GuestKernel.locate(options, env);
        Path initramfs = Initramfs.of(kernel, GuestAgentBinary.bytes(), Initramfs.BOX_MODULES, Map.of()).build(home);
        // why: resize2fs and its libraries quadruple the archive (0.45 -> 1.7 MB); only boxes that grow need them
        Supplier<Path> growing = () -> Initramfs.forBoxes(kernel, GuestAgentBinary.bytes()).build(home);
        Path qemu = HostFacts.findOnPath(HostFacts.QEMU, env.getOrDefault("PATH", "/usr/bin:/bin"))
                .orElseThrow(() -> new BoxliteException(ErrorCode.ENGINE, HostFacts.QEMU
                        + " is not on PATH, and boxes need it here: install qemu-system-x86 (bin/setup)"));
        boolean hardware = report.kvm().bootsLinux();
        String reason;
        if (report.chosen() == EngineKind.KVM) {
            reason = "the probe chose the KVM engine (" + report.choiceReason() + "), but its box path is not built"
                    + " yet, so QEMU runs boxes " + (hardware ? "with KVM acceleration" : "with TCG emulation");
            LOG.log(System.Logger.Level.INFO, reason);
        } else {
            reason = report.choiceReason();
        }
        return new Choice(new QemuBoxEngine(qemu, hardware, kernel.vmlinuz(), initramfs, growing, reason), report,
                reason);
    }
}
