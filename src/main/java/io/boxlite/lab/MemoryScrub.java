package io.boxlite.lab;

import io.boxlite.StorageException;
import io.boxlite.sys.MemoryMapping;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Overwrites most of the free memory of the machine we run on, then gives it back. In the
 * nested lab a VM that reuses memory an earlier VM freed runs 1.5–2× slower (engines.md), so the
 * benchmark scrubs before every measured VM: every VM then starts from the same state.
 */
final class MemoryScrub {
    private static final long PAGE = 4096;

    private MemoryScrub() {
    }

    /** Touches all but {@code reserveMib} of MemAvailable; returns the bytes touched. */
    static long scrub(long reserveMib) {
        long available = memAvailableKib() << 10;
        long size = (available - (reserveMib << 20)) & -PAGE;
        if (size <= 0) {
            return 0;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = MemoryMapping.anonymous(size, arena);
            for (long off = 0; off < size; off += 1 << 20) {
                m.asSlice(off, Math.min(1 << 20, size - off)).fill((byte) 0x5a);
            }
        }
        return size;
    }

    static long memAvailableKib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new StorageException("cannot read MemAvailable from /proc/meminfo: " + e.getMessage(), e);
        }
        throw new StorageException("/proc/meminfo has no MemAvailable line");
    }
}
