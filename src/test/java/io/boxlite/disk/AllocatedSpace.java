package io.boxlite.disk;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Path;

/** How much of a host file is allocated on its filesystem: what a hole gives back. */
public final class AllocatedSpace {
    private AllocatedSpace() {
    }

    /** {@code st_blocks × 512} of {@code file}, read with stat(1). */
    public static long of(Path file) throws IOException, InterruptedException {
        Process stat = new ProcessBuilder("stat", "-c", "%b", file.toString()).redirectErrorStream(true).start();
        String out = new String(stat.getInputStream().readAllBytes(), UTF_8).strip();
        assertEquals(0, stat.waitFor(), "stat " + file + ": " + out);
        return Long.parseLong(out) * 512;
    }
}
