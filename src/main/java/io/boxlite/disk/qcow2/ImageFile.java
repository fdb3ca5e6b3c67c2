package io.boxlite.disk.qcow2;

import io.boxlite.InvalidStateException;
import io.boxlite.StorageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * One host file opened for positional I/O: every call reads or writes the whole buffer or throws
 * {@link StorageException} naming the file and offset.
 *
 * <p>A {@link FileChannel} is closed by the JDK when a thread blocked in it is interrupted; a
 * device thread being interrupted must not take the whole disk down, so a channel closed that way
 * is reopened and the operation retried (positional I/O is idempotent), and the interrupt status
 * is restored for the caller. Thread-safe.
 */
final class ImageFile implements AutoCloseable {
    /** Test hook: sees every write before it is issued, in issue order. Null in production. */
    interface WriteTap {
        void write(Path path, long position, ByteBuffer data);
    }

    static volatile WriteTap tap;

    private final Path path;
    private final boolean writable;
    private final Object reopenLock = new Object();
    private volatile FileChannel channel;
    private volatile boolean closed;
    private FileLock lock;

    private ImageFile(Path path, boolean writable, FileChannel channel) {
        this.path = path;
        this.writable = writable;
        this.channel = channel;
    }

    /**
     * Opens {@code path}; a writable open also takes an exclusive lock on the whole file, so two
     * writers (ours or QEMU's) cannot corrupt it.
     */
    static ImageFile open(Path path, boolean writable) {
        Objects.requireNonNull(path, "path");
        FileChannel ch = openChannel(path, writable);
        ImageFile file = new ImageFile(path, writable, ch);
        if (writable) {
            try {
                file.lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                file.lock = null;
            } catch (IOException e) {
                file.close();
                throw new StorageException("Cannot lock disk image " + path, e);
            }
            if (file.lock == null) {
                file.close();
                throw new InvalidStateException("Disk image " + path
                        + " is in use by another writer; stop the box or tool that has it open");
            }
        }
        return file;
    }

    private static FileChannel openChannel(Path path, boolean writable) {
        try {
            return writable
                    ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(path, StandardOpenOption.READ);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new io.boxlite.NotFoundException("Disk image " + path + " does not exist", e);
        } catch (IOException e) {
            throw new StorageException("Cannot open disk image " + path + ": " + e.getMessage(), e);
        }
    }

    Path path() {
        return path;
    }

    long size() {
        try {
            return channel().size();
        } catch (IOException e) {
            throw new StorageException("Cannot stat " + path, e);
        }
    }

    /** Reads exactly {@code dst.remaining()} bytes at {@code position}; bytes past EOF are an error. */
    void readFully(long position, ByteBuffer dst) {
        long pos = position;
        boolean interrupted = false;
        try {
            while (dst.hasRemaining()) {
                FileChannel ch = channel();
                int n;
                try {
                    n = ch.read(dst, pos);
                } catch (ClosedChannelException e) {
                    interrupted |= Thread.interrupted();
                    reopenAfter(ch, e);
                    continue;
                }
                if (n < 0) {
                    throw new StorageException("Unexpected end of file in " + path + " at offset "
                            + pos + " (image truncated?)");
                }
                pos += n;
            }
        } catch (IOException e) {
            throw new StorageException("Read of " + path + " at offset " + pos + " failed", e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code position}; what lies past EOF reads as zeros,
     * as QEMU's file layer does.
     */
    void readOrZero(long position, ByteBuffer dst) {
        long pos = position;
        boolean interrupted = false;
        try {
            while (dst.hasRemaining()) {
                FileChannel ch = channel();
                int n;
                try {
                    n = ch.read(dst, pos);
                } catch (ClosedChannelException e) {
                    interrupted |= Thread.interrupted();
                    reopenAfter(ch, e);
                    continue;
                }
                if (n < 0) {
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                    return;
                }
                pos += n;
            }
        } catch (IOException e) {
            throw new StorageException("Read of " + path + " at offset " + pos + " failed", e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    void writeFully(long position, ByteBuffer src) {
        WriteTap t = tap;
        if (t != null) {
            t.write(path, position, src.duplicate());
        }
        long pos = position;
        boolean interrupted = false;
        try {
            while (src.hasRemaining()) {
                FileChannel ch = channel();
                try {
                    pos += ch.write(src, pos);
                } catch (ClosedChannelException e) {
                    interrupted |= Thread.interrupted();
                    reopenAfter(ch, e);
                }
            }
        } catch (IOException e) {
            throw new StorageException("Write to " + path + " at offset " + pos + " failed", e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** fdatasync: every completed write is durable once this returns. */
    void sync() {
        boolean interrupted = false;
        try {
            while (true) {
                FileChannel ch = channel();
                try {
                    ch.force(false);
                    return;
                } catch (ClosedChannelException e) {
                    interrupted |= Thread.interrupted();
                    reopenAfter(ch, e);
                }
            }
        } catch (IOException e) {
            throw new StorageException("fdatasync of " + path + " failed; data may not be durable", e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private FileChannel channel() {
        if (closed) {
            throw new InvalidStateException("Disk image " + path + " is closed");
        }
        return channel;
    }

    private void reopenAfter(FileChannel broken, ClosedChannelException cause) throws IOException {
        synchronized (reopenLock) {
            if (closed) {
                throw new InvalidStateException("Disk image " + path + " is closed", cause);
            }
            if (channel == broken) {
                FileChannel fresh = openChannel(path, writable);
                if (writable) {
                    // the JDK released the lock together with the interrupted channel
                    FileLock relock = fresh.tryLock();
                    if (relock == null) {
                        fresh.close();
                        throw new StorageException("Lost the lock on " + path
                                + " after an interrupted I/O and another writer took it", cause);
                    }
                    lock = relock;
                }
                channel = fresh;
            }
        }
    }

    @Override
    public void close() {
        synchronized (reopenLock) {
            if (closed) {
                return;
            }
            closed = true;
            try {
                channel.close(); // also releases the lock
            } catch (IOException e) {
                throw new StorageException("Cannot close " + path, e);
            }
        }
    }
}
