package io.boxlite.runtime;

import java.nio.file.Path;

/**
 * A command started in the background ({@code boxlite exec -d}): its box's host owns it, so it
 * outlives the process that started it, and it ends with the command or with the box.
 *
 * @param execId its id, a ULID
 * @param pid its process id in the guest
 * @param log {@code boxes/{id}/logs/exec-{execId}.log}: stdout and stderr, interleaved as they arrived
 * @param status {@code boxes/{id}/logs/exec-{execId}.json}: argv, pid, state and, once it ended, how
 */
public record DetachedExec(String execId, long pid, Path log, Path status) {
    /** The log of exec {@code execId} in the box directory {@code boxDir}. */
    public static Path log(Path boxDir, String execId) {
        return boxDir.resolve("logs").resolve("exec-" + execId + ".log");
    }

    /** The status file of exec {@code execId} in the box directory {@code boxDir}. */
    public static Path status(Path boxDir, String execId) {
        return boxDir.resolve("logs").resolve("exec-" + execId + ".json");
    }
}
