package io.boxlite.agent;

import java.time.Duration;

/**
 * A snapshot of the guest's state, as its kernel reports it.
 *
 * @param uptime since the guest kernel booted
 * @param load1 the 1-minute load average
 * @param load5 the 5-minute load average
 * @param load15 the 15-minute load average
 * @param memTotalBytes usable RAM
 * @param memFreeBytes unused RAM
 * @param memAvailableBytes RAM available to new work without swapping (MemAvailable)
 * @param processes the number of processes
 * @param cpus online CPUs
 */
public record GuestStats(Duration uptime, double load1, double load5, double load15, long memTotalBytes,
                         long memFreeBytes, long memAvailableBytes, int processes, int cpus) {
}
