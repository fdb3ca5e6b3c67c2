package io.boxlite;

/**
 * Runtime-wide metrics: BoxLite's {@code RuntimeMetrics}, counted since this runtime opened
 * (running boxes are counted across every process on the home).
 */
public record RuntimeMetrics(long boxesCreated, long boxesFailed, long runningBoxes, long commandsExecuted,
                             long execErrors) {
}
