package io.boxlite.disk;

import io.boxlite.AlreadyExistsException;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.NotFoundException;
import io.boxlite.StorageException;
import io.boxlite.sys.Fd;
import io.boxlite.sys.NativeException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A disk that is a plain file, byte for byte (what {@code qemu-img create -f raw} makes).
 * Positional {@link FileChannel} I/O, so it is thread-safe and requests in flight do not
 * serialise on a file position. The virtual size is the file's length at open, which must be a
 * non-zero multiple of 512.
 *
 * <p>Discard and write-zeroes with unmap punch a hole ({@code fallocate(PUNCH_HOLE | KEEP_SIZE)}),
 * so the host file gives the space back; where its filesystem cannot punch holes they write
 * zeros instead. Either way the range reads back as zeros afterwards. Write-zeroes without
 * unmap writes zeros, keeping the range allocated.
 *
 * <p>Do not interrupt a thread while it is inside a call: {@code FileChannel} closes itself on
 * interrupt, after which every call fails with {@link StorageException}.
 *
 * {@snippet :
 * try (RawDiskImage disk = RawDiskImage.create(path, 64L << 20)) {
 *     disk.write(0, ByteBuffer.wrap(bootSector));
 * }
 * }
 */
public final class RawDiskImage implements DiskImage {
    private static final int SECTOR = 512;
    private static final int ZERO_CHUNK = 1 << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();
    private static final System.Logger LOG = System.getLogger(RawDiskImage.class.getName());
    // fallocate may wait on the filesystem's journal, and a virtual thread must not block in a
    // foreign call (docs/threading.md): device threads hand the punch to these platform threads.
    private static final ExecutorService PUNCHER = Executors.newCachedThreadPool(
            Thread.ofPlatform().daemon().name("boxlite-disk-punch-", 0).factory());

    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final boolean readOnly;
    private final Fd fd; // the same open file as channel: vectored I/O and fallocate
    private final ReadWriteLock fdLock = new ReentrantReadWriteLock(); // close waits for calls on fd
    private volatile boolean punching = true;
    private final AtomicBoolean closed = new AtomicBoolean();

    private RawDiskImage(Path path, FileChannel channel, Fd fd, long size, boolean readOnly) {
        this.path = path;
        this.channel = channel;
        this.fd = fd;
        this.size = size;
        this.readOnly = readOnly;
    }

    /**
     * Opens an existing raw image.
     *
     * @throws NotFoundException        if {@code path} does not exist
     * @throws InvalidArgumentException if its length is zero or not a multiple of 512
     * @throws StorageException         if it cannot be opened
     */
    public static RawDiskImage open(Path path, boolean readOnly) {
        Fd holes = openFd(path, readOnly);
        FileChannel ch;
        try {
            // The channel reopens the very file the descriptor holds, so vectored I/O and holes
            // never reach another file that took the path in between.
            Path same = Path.of("/proc/self/fd/" + holes.value());
            ch = readOnly ? FileChannel.open(same, StandardOpenOption.READ)
                    : FileChannel.open(same, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (NoSuchFileException e) {
            closeQuietly(holes, e);
            throw new NotFoundException("disk image " + path + " does not exist", e);
        } catch (IOException e) {
            closeQuietly(holes, e);
            throw new StorageException("cannot open disk image " + path + ": " + e.getMessage(), e);
        }
        try {
            long size = ch.size();
            if (size == 0 || size % SECTOR != 0) {
                throw new InvalidArgumentException("disk image " + path + " is " + size
                        + " bytes; a raw disk must be a non-zero multiple of 512 bytes (resize it, e.g. with truncate -s)");
            }
            return new RawDiskImage(path, ch, holes, size, readOnly);
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch, e);
            closeQuietly(holes, e);
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new StorageException("cannot read the size of disk image " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Creates a new sparse raw image of {@code size} bytes and opens it read-write. The file is
     * prepared under a temporary name beside {@code path} and linked into place, so a crash
     * leaves either no image or a complete one, and an image created meanwhile is never replaced.
     *
     * @throws AlreadyExistsException   if {@code path} exists
     * @throws InvalidArgumentException if {@code size} is not a positive multiple of 512
     */
    public static RawDiskImage create(Path path, long size) {
        if (size <= 0 || size % SECTOR != 0) {
            throw new InvalidArgumentException("disk size " + size + " must be a positive multiple of 512 bytes");
        }
        if (Files.exists(path)) {
            throw new AlreadyExistsException("disk image " + path + " already exists");
        }
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, "." + path.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.truncate(0);
                ch.position(size - 1);
                ch.write(ByteBuffer.wrap(new byte[1])); // sets the length; only the last block is allocated
                ch.force(true);
            }
            Files.createLink(path, tmp); // atomic and, unlike rename, never replaces a file created meanwhile
        } catch (FileAlreadyExistsException e) {
            throw new AlreadyExistsException("disk image " + path + " already exists", e);
        } catch (IOException e) {
            throw new StorageException("cannot create disk image " + path + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the temporary name is dot-prefixed and harmless; the primary error matters
                }
            }
        }
        return open(path, false);
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        checkRange(offset, dst.remaining());
        long pos = offset;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    throw new StorageException("disk image " + path + " is shorter than its size " + size
                            + " (truncated while in use?)");
                }
                pos += n;
            }
        } catch (IOException e) {
            throw ioFailure("read", offset, e);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        requireWritable("write");
        checkRange(offset, src.remaining());
        long pos = offset;
        try {
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        } catch (IOException e) {
            throw ioFailure("write", offset, e);
        }
    }

    /**
     * One {@code preadv} per up to {@value Fd#IOV_MAX} buffers, straight into them (guest RAM),
     * when called on a platform thread with direct buffers; otherwise buffer by buffer through
     * the channel, since a virtual thread must not block in a foreign call (docs/threading.md).
     */
    @Override
    public void readv(long offset, ByteBuffer[] dsts) {
        if (!Fd.canTransfer(List.of(dsts))) {
            DiskImage.super.readv(offset, dsts);
            return;
        }
        checkRange(offset, remaining(dsts));
        vectored(offset, dsts, false);
    }

    /** Like {@link #readv}: one {@code pwritev} per up to {@value Fd#IOV_MAX} buffers. */
    @Override
    public void writev(long offset, ByteBuffer[] srcs) {
        requireWritable("write");
        if (!Fd.canTransfer(List.of(srcs))) {
            DiskImage.super.writev(offset, srcs);
            return;
        }
        checkRange(offset, remaining(srcs));
        vectored(offset, srcs, true);
    }

    private static long remaining(ByteBuffer[] buffers) {
        long n = 0;
        for (ByteBuffer b : buffers) {
            n += b.remaining();
        }
        return n;
    }

    private void vectored(long offset, ByteBuffer[] buffers, boolean write) {
        fdLock.readLock().lock();
        try {
            if (closed.get()) {
                throw new StorageException("disk image " + path + " is closed; cannot " + (write ? "write" : "read")
                        + " at offset " + offset);
            }
            if (write) {
                fd.writeFully(List.of(buffers), offset);
            } else if (!fd.readFully(List.of(buffers), offset)) {
                throw new StorageException("disk image " + path + " is shorter than its size " + size
                        + " (truncated while in use?)");
            }
        } catch (NativeException e) {
            throw new StorageException("disk image " + path + ": " + (write ? "write" : "read") + " at offset "
                    + offset + " failed: " + e.getMessage(), e);
        } finally {
            fdLock.readLock().unlock();
        }
    }

    @Override
    public void flush() {
        if (readOnly) {
            return;
        }
        try {
            channel.force(false);
        } catch (IOException e) {
            throw ioFailure("flush", 0, e);
        }
    }

    @Override
    public void discard(long offset, long length) {
        requireWritable("discard");
        deallocate(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) {
        requireWritable("write zeroes");
        if (mayUnmap) {
            deallocate(offset, length);
        } else {
            zero(offset, length);
        }
    }

    private void deallocate(long offset, long length) {
        checkRange(offset, length);
        if (length == 0 || punching && punchHole(offset, length)) {
            return;
        }
        zero(offset, length);
    }

    /** Punches on a platform thread; false once the filesystem has refused. */
    private boolean punchHole(long offset, long length) {
        if (!Thread.currentThread().isVirtual()) {
            return punchNow(offset, length);
        }
        Future<Boolean> punched = PUNCHER.submit(() -> punchNow(offset, length));
        try {
            return punched.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("disk image " + path + ": interrupted while discarding at offset " + offset, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new StorageException("disk image " + path + ": discard at offset " + offset + " failed: "
                    + e.getCause(), e.getCause());
        }
    }

    private boolean punchNow(long offset, long length) {
        fdLock.readLock().lock();
        try {
            if (closed.get()) {
                throw new StorageException("disk image " + path + " is closed; cannot discard at offset " + offset);
            }
            if (fd.punchHole(offset, length)) {
                return true;
            }
            punching = false;
            LOG.log(System.Logger.Level.INFO, "The filesystem of disk image {0} cannot punch holes;"
                    + " discards write zeros instead", path);
            return false;
        } catch (NativeException e) {
            throw new StorageException("disk image " + path + ": discard at offset " + offset + " failed: "
                    + e.getMessage(), e);
        } finally {
            fdLock.readLock().unlock();
        }
    }

    private void zero(long offset, long length) {
        checkRange(offset, length);
        long pos = offset;
        long end = offset + length;
        try {
            while (pos < end) {
                ByteBuffer z = ZEROS.duplicate();
                z.limit((int) Math.min(ZERO_CHUNK, end - pos));
                while (z.hasRemaining()) {
                    pos += channel.write(z, pos);
                }
            }
        } catch (IOException e) {
            throw ioFailure("zero", offset, e);
        }
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " is outside disk " + path + " of " + size + " bytes");
        }
    }

    private void requireWritable(String what) {
        if (readOnly) {
            throw new InvalidStateException("cannot " + what + " disk image " + path + ": it is open read-only");
        }
    }

    private StorageException ioFailure(String op, long offset, IOException e) {
        String hint = e instanceof ClosedByInterruptException ? " (the thread was interrupted, which closed the file)" : "";
        return new StorageException("disk image " + path + ": " + op + " at offset " + offset + " failed: " + e + hint, e);
    }

    /** Flushes (when writable), then closes the file; idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        StorageException failure = null;
        try {
            flush();
        } catch (StorageException e) {
            failure = e;
        }
        try {
            channel.close();
        } catch (IOException e) {
            failure = addFailure(failure, new StorageException("cannot close disk image " + path + ": " + e.getMessage(), e));
        }
        if (fd != null) {
            fdLock.writeLock().lock();
            try {
                fd.close();
            } catch (NativeException e) {
                failure = addFailure(failure, new StorageException("cannot close disk image " + path + ": "
                        + e.getMessage(), e));
            } finally {
                fdLock.writeLock().unlock();
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static StorageException addFailure(StorageException first, StorageException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }

    private static Fd openFd(Path path, boolean readOnly) {
        try {
            return readOnly ? Fd.openReadOnly(path) : Fd.openReadWrite(path);
        } catch (NotFoundException e) {
            throw new NotFoundException("disk image " + path + " does not exist", e);
        } catch (NativeException e) {
            throw new StorageException("cannot open disk image " + path + ": " + e.getMessage(), e);
        }
    }

    private static void closeQuietly(FileChannel ch, Exception primary) {
        try {
            ch.close();
        } catch (IOException e) {
            primary.addSuppressed(e);
        }
    }

    private static void closeQuietly(Fd fd, Exception primary) {
        if (fd == null) {
            return;
        }
        try {
            fd.close();
        } catch (NativeException e) {
            primary.addSuppressed(e);
        }
    }
}
