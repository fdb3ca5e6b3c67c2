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
 *
 * <p>POSIX record locks belong to the process, and closing <em>any</em> descriptor of the file
 * drops all of the process's locks on it. So each lock file has one channel per JVM, shared by
 * every thread using the file and closed only when none does, and a lock is given back with
 * {@link FileLock#release()}, which unlocks only its own byte. (One channel per holder, closed on release, let one thread's
 * release silently drop another thread's lock: a second process then downloaded the same blob.)
 */
public final class FileLocks {
    private static final ConcurrentHashMap<String, Semaphore> LOCAL = new ConcurrentHashMap<>();
    /** Per lock file: this JVM's channel and how many threads use it (holding or trying). */
    private static final class Shared {
        final FileChannel channel;
        int users;

        Shared(FileChannel channel) {
            this.channel = channel;
        }
    }

    // Guarded by itself. A channel is closed only when no thread of this JVM holds or tries a
    // lock on its file, so closing it cannot drop anyone's lock, and removed files' descriptors
    // (box directories come and go) do not accumulate.
    private static final java.util.HashMap<Path, Shared> CHANNELS = new java.util.HashMap<>();
    private static final long MIN_POLL_MS = 5;
    private static final long MAX_POLL_MS = 200;

    private FileLocks() {
    }

    /** A held lock; {@link #close()} releases it. */
    public static final class Held implements AutoCloseable {
        private final Semaphore local;
        private final FileLock lock;
        private final Path file;
        private boolean released;

        private Held(Semaphore local, FileLock lock, Path file) {
            this.local = local;
            this.lock = lock;
            this.file = file;
        }

        @Override
        public synchronized void close() {
            if (released) {
                return;
            }
            released = true;
            try {
                lock.release(); // unlocks this slot only
            } catch (IOException e) {
                throw new StorageException("Could not release a lock file", e);
            } finally {
                unuse(file);
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
        Path key = file.toAbsolutePath().normalize();
        boolean inUse = false;
        try {
            FileChannel channel = use(key);
            inUse = true;
            long poll = MIN_POLL_MS;
            while (true) {
                Optional<FileLock> lock = tryLock(channel, slot);
                if (lock.isPresent()) {
                    handedOut = true;
                    return new Held(local, lock.get(), key);
                }
                if (System.nanoTime() - deadline >= 0) {
                    throw timedOut(file, timeout, what);
                }
                Thread.sleep(poll);
                poll = Math.min(MAX_POLL_MS, poll * 2);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("Interrupted while waiting for " + what, e);
        } catch (IOException e) {
            throw new StorageException("Could not lock " + file + " for " + what, e);
        } finally {
            if (!handedOut) {
                if (inUse) {
                    unuse(key);
                }
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
        Path key = file.toAbsolutePath().normalize();
        FileChannel channel;
        try {
            channel = use(key);
        } catch (IOException e) {
            local.release();
            throw new StorageException("Could not lock " + file, e);
        }
        try {
            Optional<FileLock> lock = tryLock(channel, slot);
            if (lock.isPresent()) {
                return Optional.of(new Held(local, lock.get(), key));
            }
        } catch (IOException e) {
            unuse(key);
            local.release();
            throw new StorageException("Could not lock " + file, e);
        }
        unuse(key);
        local.release();
        return Optional.empty();
    }

    /** This JVM's channel on {@code key}, opened if needed; pair with {@link #unuse}. */
    private static FileChannel use(Path key) throws IOException {
        synchronized (CHANNELS) {
            Shared shared = CHANNELS.get(key);
            if (shared == null) {
                shared = new Shared(FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE));
                CHANNELS.put(key, shared);
            }
            shared.users++;
            return shared.channel;
        }
    }

    /** One user fewer; the last closes the channel (no lock of this JVM remains on the file). */
    private static void unuse(Path key) {
        synchronized (CHANNELS) {
            Shared shared = CHANNELS.get(key);
            if (shared != null && --shared.users == 0) {
                CHANNELS.remove(key);
                try {
                    shared.channel.close();
                } catch (IOException e) {
                    System.getLogger(FileLocks.class.getName()).log(System.Logger.Level.WARNING,
                            "Could not close lock file " + key + ": " + e.getMessage());
                }
            }
        }
    }

    private static Optional<FileLock> tryLock(FileChannel channel, long slot) throws IOException {
        try {
            return Optional.ofNullable(channel.tryLock(slot, 1, false));
        } catch (OverlappingFileLockException e) {
            // why: another channel of this JVM on the same file holds it (outside our semaphores)
            return Optional.empty();
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
