package io.boxlite;

import java.util.Map;
import java.util.Optional;

/**
 * A box's metrics: BoxLite's {@code BoxMetrics}. Counters count what this process did with the
 * box; timings are those of its last start; cpu and memory are those of its engine process.
 *
 * @param commandsExecuted   commands started through this runtime
 * @param execErrors         commands that could not be started or whose channel failed
 * @param bytesSent          stdin bytes sent
 * @param bytesReceived      stdout and stderr bytes received
 * @param totalCreateDurationMs from start() to a running box
 * @param guestBootDurationMs   from the engine's start to the agent's answer
 * @param stageDurationsMs   each start stage, e.g. {@code stage_guest_rootfs_ms}
 * @param cpuPercent         the engine process's average CPU use since it started, while running
 * @param memoryBytes        the engine process's resident memory, while running
 */
public record BoxMetrics(long commandsExecuted, long execErrors, long bytesSent, long bytesReceived,
                         Optional<Long> totalCreateDurationMs, Optional<Long> guestBootDurationMs,
                         Map<String, Long> stageDurationsMs, Optional<Double> cpuPercent,
                         Optional<Long> memoryBytes) {
    public BoxMetrics {
        stageDurationsMs = Map.copyOf(stageDurationsMs);
    }
}
