package io.boxlite.agent;

/**
 * Receives a command's output as it arrives, on one virtual thread per stream (so stdout and
 * stderr callbacks may run concurrently, each stream's in order). A slow callback slows the
 * command: output is not buffered beyond the stream window. Chunks are fresh arrays the
 * listener may keep.
 */
public interface OutputListener {
    default void onStdout(byte[] chunk) {
    }

    default void onStderr(byte[] chunk) {
    }
}
