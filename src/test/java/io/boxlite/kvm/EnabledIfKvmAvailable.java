package io.boxlite.kvm;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs a test only where {@code /dev/kvm} can be opened read-write; otherwise the skip names
 * the reason, loudly, on stderr as well as in the report.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(EnabledIfKvmAvailable.Condition.class)
public @interface EnabledIfKvmAvailable {

    final class Condition implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            Path kvm = Kvm.DEFAULT_DEVICE;
            String reason = !Files.exists(kvm) ? kvm + " does not exist"
                    : !(Files.isReadable(kvm) && Files.isWritable(kvm)) ? kvm + " is not readable and writable by this user"
                    : null;
            if (reason == null) {
                return ConditionEvaluationResult.enabled(kvm + " is available");
            }
            System.err.println("*** SKIPPING KVM TEST " + context.getDisplayName() + ": " + reason + " ***");
            return ConditionEvaluationResult.disabled("KVM unavailable: " + reason);
        }
    }
}
