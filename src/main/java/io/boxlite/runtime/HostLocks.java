package io.boxlite.runtime;

import io.boxlite.engine.qemu.ProcessIdentity;
import io.boxlite.oci.store.FileLocks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The per-box locks, files in {@code boxes/{id}/}:
 * <ul>
 *   <li>{@code host.lock}: held by the process hosting the box's VM for as long as it runs, so
 *       its being free proves no host is alive (the kernel drops it when a process dies);</li>
 *   <li>{@code op.lock}: held while one process starts, stops or removes the box.</li>
 * </ul>
 */
final class HostLocks {
    private static final System.Logger LOG = System.getLogger(HostLocks.class.getName());
    static final String HOST_LOCK = "host.lock";
    static final String OP_LOCK = "op.lock";
    static final Duration OP_TIMEOUT = Duration.ofMinutes(5);

    private HostLocks() {
    }

    static Optional<FileLocks.Held> tryHost(Path boxDir) {
        return FileLocks.tryAcquire(boxDir.resolve(HOST_LOCK), 0);
    }

    /** Whether some process (this one included) holds the box's host lock. */
    static boolean held(Path boxDir) {
        if (!Files.isDirectory(boxDir)) {
            return false;
        }
        Optional<FileLocks.Held> probe = tryHost(boxDir);
        probe.ifPresent(FileLocks.Held::close);
        return probe.isEmpty();
    }

    static FileLocks.Held op(Path boxDir, String id) {
        return FileLocks.acquire(boxDir.resolve(OP_LOCK), 0, OP_TIMEOUT, "box " + id);
    }

    /** Kills the engine process (QEMU) a dead host left behind, if it still runs. */
    static void killOrphanEngine(Path boxDir) {
        Path pidFile = boxDir.resolve("vm").resolve("qemu.pid");
        try {
            if (!Files.isRegularFile(pidFile)) {
                return;
            }
            Optional<ProcessIdentity> id = ProcessIdentity.decode(Files.readString(pidFile));
            if (id.isPresent() && id.get().isStillRunning()) {
                Optional<ProcessHandle> h = ProcessHandle.of(id.get().pid());
                if (h.isPresent() && h.get().destroyForcibly()) {
                    LOG.log(System.Logger.Level.INFO, "Killed the orphaned QEMU {0} of {1}", id.get().pid(),
                            boxDir.getFileName());
                    h.get().onExit().get(10, TimeUnit.SECONDS);
                }
            }
            Files.deleteIfExists(pidFile);
        } catch (IOException | java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.log(System.Logger.Level.WARNING, "Cannot reap the engine of " + boxDir + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
