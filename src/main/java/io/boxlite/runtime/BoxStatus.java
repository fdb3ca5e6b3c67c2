package io.boxlite.runtime;

import io.boxlite.BoxState;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a box is doing: the mutable half of its record, kept current by whichever process hosts
 * it.
 *
 * @param state       its state
 * @param host        the process hosting its VM while it runs (PID, start time, boot id)
 * @param detached    whether that process is a box host of its own
 * @param engine      the engine that runs it, e.g. {@code qemu-tcg}
 * @param exitCode    the exit status of its main command, once that has ended
 * @param error       why it failed, when it did
 * @param startedAt   when it was last started
 * @param stoppedAt   when it last stopped
 * @param updatedAt   when this status was written
 * @param timingsMs   durations of the last start's stages, in milliseconds
 */
public record BoxStatus(BoxState state, Optional<String> host, boolean detached, Optional<String> engine,
                        Optional<Integer> exitCode, Optional<String> error, Optional<Instant> startedAt,
                        Optional<Instant> stoppedAt, Instant updatedAt, Map<String, Long> timingsMs) {
    public BoxStatus {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(exitCode, "exitCode");
        Objects.requireNonNull(error, "error");
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(stoppedAt, "stoppedAt");
        Objects.requireNonNull(updatedAt, "updatedAt");
        timingsMs = java.util.Collections.unmodifiableMap(new TreeMap<>(timingsMs));
    }

    /** A freshly created box's status. */
    public static BoxStatus configured() {
        return new BoxStatus(BoxState.CONFIGURED, Optional.empty(), false, Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), Optional.empty(), Instant.now(), Map.of());
    }

    /** The PID of the hosting process, if running. */
    public Optional<Long> hostPid() {
        return host.flatMap(io.boxlite.engine.qemu.ProcessIdentity::decode).map(io.boxlite.engine.qemu.ProcessIdentity::pid);
    }

    public BoxStatus withState(BoxState s) {
        return new BoxStatus(s, host, detached, engine, exitCode, error, startedAt, stoppedAt, Instant.now(), timingsMs);
    }

    /** Stopped (or failed) now: no host any more. */
    public BoxStatus ended(BoxState s, Optional<Integer> exit, Optional<String> why) {
        return new BoxStatus(s, Optional.empty(), false, engine, exit.or(() -> exitCode), why, startedAt,
                Optional.of(Instant.now()), Instant.now(), timingsMs);
    }
}
