package io.boxlite;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A box as stored: BoxLite's {@code BoxInfo}.
 *
 * @param id         its ULID
 * @param name       its name, if it has one
 * @param state      its state
 * @param createdAt  when it was created
 * @param image      the canonical reference of its image
 * @param cpus       virtual CPUs
 * @param memoryMib  guest RAM
 * @param pid        the process hosting it while it runs
 * @param detached   whether that process is a box host of its own
 * @param engine     the engine it last ran on, e.g. {@code qemu-tcg}
 * @param exitCode   the exit status of its main command, once that has ended
 * @param error      why it failed or was stopped by recovery
 * @param autoRemove whether it is removed when it stops
 * @param startedAt  when it last started
 * @param stoppedAt  when it last stopped
 */
public record BoxInfo(String id, Optional<String> name, BoxState state, Instant createdAt, String image, int cpus,
                      int memoryMib, Optional<Long> pid, boolean detached, Optional<String> engine,
                      Optional<Integer> exitCode, Optional<String> error, boolean autoRemove,
                      Optional<Instant> startedAt, Optional<Instant> stoppedAt) {
    public BoxInfo {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(state, "state");
    }

    /** Whether its VM runs. */
    public boolean running() {
        return state == BoxState.RUNNING;
    }
}
