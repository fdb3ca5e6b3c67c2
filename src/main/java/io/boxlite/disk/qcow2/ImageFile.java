package io.boxlite.disk.qcow2;

import io.boxlite.InvalidStateException;
import io.boxlite.StorageException;
import io.boxlite.sys.Fd;
import io.boxlite.sys.NativeException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
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
    // Twin of the channel for preadv/pwritev, with the same access. Opened once and closed only
    // with the file: closing any descriptor of a file drops this process's POSIX lock on it.
    private final Fd vectored;
    private final Object reopenLock = new Object();
    private volatile FileChannel channel;
    private volatile boolean closed;
    private FileLock lock;

    private ImageFile(Path path, boolean writable, FileChannel channel, Fd vectored) {
        this.path = path;
        this.writable = writable;
        this.channel = channel;
        this.vectored = vectored;
    }

    /**
     * Opens {@code path}; a writable open also takes an exclusive lock on the whole file, so two
     * writers (ours or QEMU's) cannot corrupt it.
     */
    static ImageFile open(Path path, boolean writable) {
        Objects.requireNonNull(path, "path");
        Fd reads;
        try {
            reads = writable ? Fd.openReadWrite(path) : Fd.openReadOnly(path);
        } catch (io.boxlite.NotFoundException e) {
            throw new io.boxlite.NotFoundException("Disk image " + path + " does not exist", e);
        } catch (NativeException e) {
            throw new StorageException("Cannot open disk image " + path + ": " + e.getMessage(), e);
        }
        FileChannel ch;
        try {
            // the channel reopens the very file the descriptor holds: both see one inode
            ch = openChannel(Path.of("/proc/self/fd/" + reads.value()), writable);
        } catch (RuntimeException e) {
            reads.close();
            throw e;
        }
        ImageFile file = new ImageFile(path, writable, ch, reads);
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
        read(position, dst, false);
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code position}; what lies past EOF reads as zeros,
     * as QEMU's file layer does.
     */
    void readOrZero(long position, ByteBuffer dst) {
        read(position, dst, true);
    }

    private void read(long position, ByteBuffer dst, boolean zeroPastEnd) {
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
                    if (!zeroPastEnd) {
                        throw new StorageException("Unexpected end of file in " + path + " at offset "
                                + pos + " (image truncated?)");
                    }
                    zeroRest(dst);
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

    /**
     * Like {@link #readOrZero} for several buffers filled in order from {@code position}: one
     * {@code preadv} per call on a platform thread with direct buffers (a virtual thread must not
     * block in a foreign call, docs/threading.md), else buffer by buffer through the channel.
     */
    void readvOrZero(long position, List<ByteBuffer> dsts) {
        if (!Fd.canTransfer(dsts)) {
            long pos = position;
            for (ByteBuffer b : dsts) {
                int n = b.remaining();
                readOrZero(pos, b);
                pos += n;
            }
            return;
        }
        channel(); // fails once closed
        try {
            if (!vectored.readFully(dsts, position)) { // past the end of the file: zeros, as QEMU reads them
                dsts.forEach(ImageFile::zeroRest);
            }
        } catch (NativeException e) {
            throw new StorageException("Read of " + path + " at offset " + position + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Like {@link #writeFully} for several buffers written in order at {@code position}: one
     * {@code pwritev} per call where {@link #readvOrZero} would use one {@code preadv}. The write
     * tap sees each buffer as its own write, in order.
     */
    void writevFully(long position, List<ByteBuffer> srcs) {
        if (!Fd.canTransfer(srcs)) {
            long pos = position;
            for (ByteBuffer b : srcs) {
                int n = b.remaining();
                writeFully(pos, b);
                pos += n;
            }
            return;
        }
        channel(); // fails once closed
        WriteTap t = tap;
        if (t != null) {
            long at = position;
            for (ByteBuffer b : srcs) {
                t.write(path, at, b.duplicate());
                at += b.remaining();
            }
        }
        try {
            vectored.writeFully(srcs, position);
        } catch (NativeException e) {
            throw new StorageException("Write to " + path + " at offset " + position + " failed: " + e.getMessage(), e);
        }
    }

    private static void zeroRest(ByteBuffer dst) {
        while (dst.hasRemaining()) {
            dst.put((byte) 0);
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
            } finally {
                vectored.close();
            }
        }
    }
}
