package io.boxlite.oci.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * POSIX record locks belong to the process and die with any descriptor of the file: releasing
 * one slot must not drop another slot this JVM still holds. The kernel's own table
 * ({@code /proc/locks}) is the witness, so the test does not depend on timing.
 */
class FileLocksTest {

    private static long kernelLocksOn(Path file) throws Exception {
        long inode = (long) Files.getAttribute(file, "unix:ino");
        String pid = Long.toString(ProcessHandle.current().pid());
        // "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 7 7"
        return Files.readAllLines(Path.of("/proc/locks")).stream()
                .map(l -> l.trim().split("\\s+"))
                .filter(f -> f.length >= 8 && f[1].equals("POSIX") && f[4].equals(pid)
                        && f[5].endsWith(":" + inode))
                .count();
    }

    @Test
    void releasingOneSlotKeepsTheOtherSlotsOfThisProcessLocked(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("locks");
        FileLocks.Held a = FileLocks.acquire(file, 7, Duration.ofSeconds(5), "slot 7");
        FileLocks.Held b = FileLocks.acquire(file, 9, Duration.ofSeconds(5), "slot 9");
        assertEquals(2, kernelLocksOn(file));

        assertTrue(FileLocks.tryAcquire(file, 11).map(h -> { h.close(); return true; }).orElse(false));
        assertEquals(2, kernelLocksOn(file), "a try-and-release of another slot drops nothing");

        a.close();
        assertEquals(1, kernelLocksOn(file), "slot 9 is still locked in the kernel after slot 7 is released");
        assertTrue(FileLocks.tryAcquire(file, 9).isEmpty(), "and this JVM still sees it as taken");
        b.close();
        assertEquals(0, kernelLocksOn(file));
    }
}
