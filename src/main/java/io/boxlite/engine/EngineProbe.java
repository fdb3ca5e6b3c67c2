package io.boxlite.engine;

import io.boxlite.kvm.NativeExecutionCheck;

import io.boxlite.BoxliteException;
import io.boxlite.EngineKind;
import io.boxlite.ErrorCode;
import io.boxlite.Options;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Tells hardware KVM (which boots Linux) from KVM-PVM or no usable KVM, finds QEMU, and picks
 * the engine: an override ({@link Options#engine()}, else {@code BOXLITE_ENGINE}) wins; else
 * hardware KVM means {@link EngineKind#KVM}; else QEMU if it is installed; else there is none.
 *
 * {@snippet :
 * ProbeReport report = EngineProbe.forThisHost(check).probe(Options.defaults());
 * System.out.print(report.render());
 * }
 *
 * <p>The {@link KvmFunctionalCheck} runs only when {@code /dev/kvm} is readable and writable
 * (on KVM-PVM too, where its failure is the evidence shown beside the kvm_pvm module).
 */
public final class EngineProbe {
    private static final String INSTALL_QEMU = "install QEMU (sudo apt-get install qemu-system-x86, or bin/setup)";
    private static final String FIX_PERMISSIONS =
            "add your user to the 'kvm' group or run as root; check `ls -l /dev/kvm`";

    private final Supplier<HostFacts> facts;
    private final KvmFunctionalCheck check;
    private final Map<String, String> env;

    /**
     * @param facts how to read the host's facts (called once per {@link #probe(Options)})
     * @param check the functional check of {@code /dev/kvm}
     * @param env   the environment, for {@code BOXLITE_ENGINE}
     */
    public EngineProbe(Supplier<HostFacts> facts, KvmFunctionalCheck check, Map<String, String> env) {
        this.facts = Objects.requireNonNull(facts, "facts");
        this.check = Objects.requireNonNull(check, "check");
        this.env = Map.copyOf(env);
    }

    /**
     * A probe of this host whose functional check runs {@link NativeExecutionCheck}'s test guest
     * on {@code /dev/kvm}.
     */
    public static EngineProbe forThisHost() {
        return forThisHost(System.getenv());
    }

    /**
     * As {@link #forThisHost()}, reading {@code BOXLITE_ENGINE} and {@code PATH} from {@code env}
     * (a runtime opened with an explicit environment) instead of this process's.
     */
    public static EngineProbe forThisHost(Map<String, String> env) {
        Map<String, String> copy = Map.copyOf(env);
        return new EngineProbe(() -> HostFacts.read(copy), () -> {
            try (io.boxlite.kvm.Kvm kvm = io.boxlite.kvm.Kvm.open()) {
                return NativeExecutionCheck.failure(kvm);
            }
        }, copy);
    }

    /** A probe of this host, reading its files and environment at each {@link #probe(Options)}. */
    public static EngineProbe forThisHost(KvmFunctionalCheck check) {
        Map<String, String> env = System.getenv();
        return new EngineProbe(() -> HostFacts.read(env), check, env);
    }

    /** {@link #probe(Options)} with default options. */
    public ProbeReport probe() {
        return probe(Options.defaults());
    }

    /**
     * Probes the host and picks an engine.
     *
     * @throws BoxliteException with {@link ErrorCode#ENGINE} when no override is set and neither
     *                          engine can run a guest here; with {@link ErrorCode#INVALID_ARGUMENT}
     *                          when {@code BOXLITE_ENGINE} names no engine
     */
    public ProbeReport probe(Options options) {
        HostFacts host = facts.get();
        KvmVerdict kvm = kvm(host);
        boolean qemuAvailable = host.qemuBinary().isPresent() && host.qemuVersion().isPresent();
        String qemuDetail = qemuDetail(host, true);

        Optional<EngineOverride> override = override(options);
        EngineKind chosen;
        String choiceReason;
        if (override.isPresent()) {
            chosen = override.get().engine();
            choiceReason = override.get().source() + " overrides the probe" + overrideWarning(chosen, kvm, qemuAvailable);
        } else if (kvm.support().bootsLinux()) {
            chosen = EngineKind.KVM;
            choiceReason = "hardware KVM works, so BoxLite's own VMM runs the guest";
        } else if (qemuAvailable) {
            chosen = EngineKind.QEMU;
            choiceReason = "KVM cannot boot Linux here (" + kvm.support().label()
                    + "), so QEMU runs the guest with TCG software emulation (slower than KVM)";
        } else {
            throw new BoxliteException(ErrorCode.ENGINE, "Neither engine can run a guest here: KVM: "
                    + kvm.reason() + "; QEMU: " + qemuDetail(host, false) + ". Fix: " + INSTALL_QEMU
                    + (kvm.support() == KvmSupport.PVM ? "" : ", or enable hardware KVM on this host"));
        }
        return new ProbeReport(kvm.support(), kvm.reason(), qemuAvailable, qemuDetail, chosen, choiceReason);
    }

    private record KvmVerdict(KvmSupport support, String reason) {
    }

    private record EngineOverride(EngineKind engine, String source) {
    }

    private KvmVerdict kvm(HostFacts host) {
        String flags = host.cpuVirtFlag().map(f -> "the CPU flags show " + f)
                .orElse("the CPU flags show no vmx/svm");
        if (!host.kvmExists()) {
            return new KvmVerdict(KvmSupport.ABSENT, host.cpuVirtFlag().isPresent()
                    ? "/dev/kvm does not exist, though " + flags + ": load kvm_intel or kvm_amd"
                    : "/dev/kvm does not exist and " + flags + ": enable VT-x/AMD-V in the firmware,"
                      + " or nested virtualization if this host is itself a VM");
        }
        if (!host.kvmReadWrite()) {
            return new KvmVerdict(host.pvmModule() ? KvmSupport.PVM : KvmSupport.UNUSABLE,
                    "/dev/kvm exists but is not readable and writable by this user: " + FIX_PERMISSIONS);
        }
        Optional<String> failure;
        try {
            failure = check.failure();
        } catch (Exception | LinkageError | AssertionError e) {
            failure = Optional.of("the functional check threw " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        if (host.pvmModule()) {
            // The module already tells; the test guest is the evidence, shown either way.
            return new KvmVerdict(KvmSupport.PVM, "/dev/kvm is provided by kvm_pvm (/sys/module/kvm_pvm exists; "
                    + flags + "): its software instruction emulator stops at the first instruction it lacks,"
                    + " so stock Linux guests cannot boot through it; "
                    + failure.map(f -> "a test guest confirms it: " + f)
                            .orElse("yet a test guest ran natively, which is unexpected under PVM"));
        }
        if (failure.isPresent()) {
            return new KvmVerdict(KvmSupport.UNUSABLE, "/dev/kvm is accessible but a test guest failed ("
                    + flags + "): " + failure.get());
        }
        return new KvmVerdict(KvmSupport.HARDWARE, "/dev/kvm is accessible and a test guest ran (" + flags + ")");
    }

    private static String qemuDetail(HostFacts host, boolean withFix) {
        if (host.qemuBinary().isEmpty()) {
            return HostFacts.QEMU + " is not on PATH" + (withFix ? ": " + INSTALL_QEMU : "");
        }
        String path = host.qemuBinary().get().toString();
        return host.qemuVersion().map(version -> version + " (" + path + ")")
                .orElse(path + " did not answer --version" + (withFix ? ": reinstall qemu-system-x86" : ""));
    }

    private Optional<EngineOverride> override(Options options) {
        if (options.engine().isPresent()) {
            EngineKind engine = options.engine().get();
            return Optional.of(new EngineOverride(engine, "Options.engine " + engine.name().toLowerCase(Locale.ROOT)));
        }
        String value = env.get("BOXLITE_ENGINE");
        if (value == null || value.isBlank()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new EngineOverride(EngineKind.parse(value), "BOXLITE_ENGINE=" + value.strip()));
        } catch (BoxliteException e) {
            throw new BoxliteException(e.code(), "BOXLITE_ENGINE: " + e.getMessage(), e);
        }
    }

    private static String overrideWarning(EngineKind chosen, KvmVerdict kvm, boolean qemuAvailable) {
        return switch (chosen) {
            case KVM -> kvm.support().bootsLinux() ? ""
                    : "; warning: KVM cannot boot Linux here (" + kvm.support().label() + ")";
            case QEMU -> qemuAvailable ? ""
                    : "; warning: QEMU is not available, so boxes will fail to start: " + INSTALL_QEMU;
        };
    }
}
