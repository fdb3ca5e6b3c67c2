package io.boxlite.engine;

import io.boxlite.EngineKind;

import java.util.Locale;
import java.util.Objects;

/**
 * What {@link EngineProbe} found and which engine it picked, each with its reason in words.
 *
 * @param kvm           what {@code /dev/kvm} offers
 * @param kvmReason     why {@link #kvm()} is what it is, with the fix where there is one
 * @param qemuAvailable {@code qemu-system-x86_64} is on {@code PATH} and runs
 * @param qemuDetail    its path and version, or why it is not available
 * @param chosen        the engine boxes will use
 * @param choiceReason  why that engine, naming an override when one was set
 */
public record ProbeReport(KvmSupport kvm, String kvmReason, boolean qemuAvailable, String qemuDetail,
                          EngineKind chosen, String choiceReason) {

    public ProbeReport {
        Objects.requireNonNull(kvm, "kvm");
        Objects.requireNonNull(kvmReason, "kvmReason");
        Objects.requireNonNull(qemuDetail, "qemuDetail");
        Objects.requireNonNull(chosen, "chosen");
        Objects.requireNonNull(choiceReason, "choiceReason");
    }

    /** The report as a few lines of text for people, ending in a newline. */
    public String render() {
        String kvmHeadline = kvm.label() + (kvm.bootsLinux() ? " (boots Linux)" : " (cannot boot Linux)");
        return """
                KVM:    %s
                        %s
                QEMU:   %s
                        %s
                Engine: %s
                        %s
                """.formatted(kvmHeadline, kvmReason, qemuAvailable ? "available" : "not available", qemuDetail,
                chosen.name().toLowerCase(Locale.ROOT), choiceReason);
    }
}
