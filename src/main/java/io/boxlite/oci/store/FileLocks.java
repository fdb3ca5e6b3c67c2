package io.boxlite.oci.store;

import io.boxlite.StorageException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Exclusive locks shared by threads of this process and by other processes on one home: a
 * one-byte range ("slot") of a lock file, locked with {@link FileChannel#tryLock} (POSIX record
 * locks, released by the kernel when a process dies). One file holds many slots, so no lock file
 * is ever created per blob or deleted (deleting lock files races with their users).
 *
 * <p>Java refuses overlapping locks from one JVM, so threads of this process first take a
 * semaphore per (file, slot). Waiting polls {@code tryLock}, which never blocks in the kernel,
 * so waiting on a virtual thread pins no carrier.
 */
public final class FileLocks {
    private static final ConcurrentHashMap<String, Semaphore> LOCAL = new ConcurrentHashMap<>();
    private static final long MIN_POLL_MS = 5;
    private static final long MAX_POLL_MS = 200;

    private FileLocks() {
    }

    /** A held lock; {@link #close()} releases it. */
    public static final class Held implements AutoCloseable {
        private final Semaphore local;
        private final FileChannel channel;
        private boolean released;

        private Held(Semaphore local, FileChannel channel) {
            this.local = local;
            this.channel = channel;
        }

        @Override
        public synchronized void close() {
            if (released) {
                return;
            }
            released = true;
            try {
                channel.close(); // releases the record lock
            } catch (IOException e) {
                throw new StorageException("Could not release a lock file", e);
            } finally {
                local.release();
            }
        }
    }

    /**
     * Takes slot {@code slot} of {@code file}, waiting up to {@code timeout}.
     *
     * @param what names what the lock guards, for the timeout message
     * @throws StorageException on timeout (naming the lock file), interruption, or I/O failure
     */
    public static Held acquire(Path file, long slot, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Semaphore local = LOCAL.computeIfAbsent(key(file, slot), k -> new Semaphore(1));
        try {
            if (!local.tryAcquire(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw timedOut(file, timeout, what);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("Interrupted while waiting for " + what, e);
        }
        boolean handedOut = false;
        try {
            FileChannel channel = open(file);
            try {
                long poll = MIN_POLL_MS;
                while (true) {
                    if (tryLock(channel, slot)) {
                        handedOut = true;
                        return new Held(local, channel);
                    }
                    if (System.nanoTime() - deadline >= 0) {
                        throw timedOut(file, timeout, what);
                    }
                    Thread.sleep(poll);
                    poll = Math.min(MAX_POLL_MS, poll * 2);
                }
            } finally {
                if (!handedOut) {
                    channel.close();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("Interrupted while waiting for " + what, e);
        } catch (IOException e) {
            throw new StorageException("Could not lock " + file + " for " + what, e);
        } finally {
            if (!handedOut) {
                local.release();
            }
        }
    }

    /** Takes the slot if it is free right now. */
    public static Optional<Held> tryAcquire(Path file, long slot) {
        Semaphore local = LOCAL.computeIfAbsent(key(file, slot), k -> new Semaphore(1));
        if (!local.tryAcquire()) {
            return Optional.empty();
        }
        try {
            FileChannel channel = open(file);
            if (tryLock(channel, slot)) {
                return Optional.of(new Held(local, channel));
            }
            channel.close();
        } catch (IOException e) {
            local.release();
            throw new StorageException("Could not lock " + file, e);
        }
        local.release();
        return Optional.empty();
    }

    private static FileChannel open(Path file) throws IOException {
        return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    }

    private static boolean tryLock(FileChannel channel, long slot) throws IOException {
        try {
            FileLock lock = channel.tryLock(slot, 1, false);
            return lock != null;
        } catch (OverlappingFileLockException e) {
            // why: another channel of this JVM on the same file holds it (outside our semaphores)
            return false;
        }
    }

    private static String key(Path file, long slot) {
        return file.toAbsolutePath().normalize() + "#" + slot;
    }

    private static StorageException timedOut(Path file, Duration timeout, String what) {
        return new StorageException("Timed out after " + timeout.toSeconds() + " s waiting for "
                + what + ": another pull or image operation holds the lock in " + file
                + "; wait for it to finish, or raise the lock timeout");
    }
}
