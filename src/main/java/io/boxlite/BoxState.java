package io.boxlite;

import java.util.Locale;

/**
 * Where a box is in its life, stored lowercase as BoxLite does.
 *
 * <pre>
 * configured → running → stopping → stopped
 *      └───────────┴──────────┴──→ failed
 * stopped, failed → running (started again; the disk keeps its data)
 * </pre>
 */
public enum BoxState {
    /** Created and persisted; never started. */
    CONFIGURED,
    /** Its VM runs and its agent answered. */
    RUNNING,
    /** An orderly shutdown is under way. */
    STOPPING,
    /** Its VM is gone; the disk is kept. */
    STOPPED,
    /** Starting failed, or its VM died without being stopped. */
    FAILED;

    /** {@code "running"}, as stored. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a stored label; BoxLite's legacy {@code starting} reads as configured. */
    public static BoxState parse(String label) {
        return switch (label) {
            case "configured", "starting" -> CONFIGURED;
            case "running" -> RUNNING;
            case "stopping" -> STOPPING;
            case "stopped", "snapshotting", "restoring", "exporting", "cloning" -> STOPPED;
            case "failed" -> FAILED;
            default -> throw new BoxliteException(ErrorCode.METADATA, "Unknown box state '" + label + "'");
        };
    }

    /** Whether {@code start()} may boot it. */
    public boolean canStart() {
        return this == CONFIGURED || this == STOPPED || this == FAILED;
    }

    /** Whether it has a VM to stop. */
    public boolean canStop() {
        return this == RUNNING;
    }

    /** Whether it may be removed without force. */
    public boolean canRemove() {
        return this == CONFIGURED || this == STOPPED || this == FAILED;
    }
}
