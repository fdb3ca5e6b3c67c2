package io.boxlite;

import java.time.Duration;
import java.util.Objects;

/**
 * How a command in a box ended. A non-zero exit is a result, not an exception; {@link #orThrow()}
 * turns it into one.
 *
 * @param exitCode its exit status, or 128 + the signal that killed it (the shell's rule)
 * @param signal   the signal that killed it, 0 if it exited by itself
 * @param timedOut whether it was killed because its {@link BoxCommand#timeout()} expired
 * @param stdout   its standard output, when collected ({@link SimpleBox#exec}); else empty
 * @param stderr   its standard error, when collected; else empty
 * @param duration from start to exit, measured in the guest
 */
public record ExecResult(int exitCode, int signal, boolean timedOut, String stdout, String stderr,
                         Duration duration) {
    public ExecResult {
        Objects.requireNonNull(stdout, "stdout");
        Objects.requireNonNull(stderr, "stderr");
        Objects.requireNonNull(duration, "duration");
    }

    /** Whether it exited with status 0 by itself. */
    public boolean success() {
        return exitCode == 0 && signal == 0 && !timedOut;
    }

    /**
     * Returns this result if the command succeeded.
     *
     * @throws ExecFailedException otherwise, carrying this result
     */
    public ExecResult orThrow() {
        if (!success()) {
            throw new ExecFailedException(this);
        }
        return this;
    }
}
