package io.boxlite.engine;

import java.util.Optional;

/**
 * Runs a tiny guest through {@code /dev/kvm} that executes instructions a software instruction
 * emulator (such as KVM-PVM's) lacks, and tells whether it got through.
 *
 * <p>{@link EngineProbe} calls it only when {@code /dev/kvm} is readable and writable and is not
 * known to be KVM-PVM; any exception it throws is reported as the failure.
 */
@FunctionalInterface
public interface KvmFunctionalCheck {

    /** Empty if the test guest ran to completion, else what went wrong, in words. */
    Optional<String> failure();
}
