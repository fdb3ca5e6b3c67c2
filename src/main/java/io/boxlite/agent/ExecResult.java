package io.boxlite.agent;

import java.time.Duration;

/**
 * How a command ended. A non-zero exit is a result, not an exception.
 *
 * @param exitCode the exit status, or 128 + the signal when killed by one (the shell's rule)
 * @param signal the killing signal, 0 when the command exited by itself
 * @param timedOut whether the agent killed it because its timeout expired
 * @param coreDumped whether the killing signal dumped core
 * @param duration from start to exit, measured in the guest
 */
public record ExecResult(int exitCode, int signal, boolean timedOut, boolean coreDumped, Duration duration) {
    /** Whether it exited with status 0 by itself. */
    public boolean success() {
        return exitCode == 0 && signal == 0;
    }

    /** Whether a signal ended it. */
    public boolean signaled() {
        return signal != 0;
    }
}
