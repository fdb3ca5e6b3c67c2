package io.boxlite.sys;

import io.boxlite.ErrorCode;
import io.boxlite.NotFoundException;
import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.iovec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An owned file descriptor: closed exactly once, by {@link #close()} or by whoever
 * {@link #release() takes it over}. Every wrapper type holds one of these.
 */
public final class Fd implements AutoCloseable {
    private static final int CLOSED = -1;

    private final AtomicInteger fd;

    private Fd(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        this.fd = new AtomicInteger(fd);
    }

    /** Takes ownership of a descriptor the caller just obtained. */
    public static Fd adopt(int fd) {
        return new Fd(fd);
    }

    /**
     * Opens an existing file for reading and writing, close-on-exec.
     *
     * @throws NotFoundException if {@code path} does not exist
     * @throws NativeException ({@link ErrorCode#STORAGE}) if it cannot be opened
     */
    public static Fd openReadWrite(Path path) {
        return openFile(path, BoxliteSys.O_RDWR());
    }

    /** Like {@link #openReadWrite}, for reading only. */
    public static Fd openReadOnly(Path path) {
        return openFile(path, BoxliteSys.O_RDONLY());
    }

    private static Fd openFile(Path path, int access) {
        int r;
        try (Arena arena = Arena.ofConfined()) {
            r = Libc.open(arena.allocateFrom(path.toString()), access | BoxliteSys.O_CLOEXEC(), 0);
        }
        if (r < 0) {
            int errno = Libc.errno();
            if (errno == BoxliteSys.ENOENT()) {
                throw new NotFoundException(path + " does not exist");
            }
            throw new NativeException(ErrorCode.STORAGE, "open(" + path + ")", errno, null);
        }
        return adopt(r);
    }

    /**
     * Deallocates {@code length} bytes at {@code offset} of this regular file, keeping its size
     * ({@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}): the range reads as zeros
     * afterwards. Returns false, changing nothing, where the filesystem cannot punch holes.
     *
     * <p>A filesystem call that may wait on its journal: call it from a platform thread
     * (docs/threading.md).
     *
     * @throws NativeException ({@link ErrorCode#STORAGE}) on any other failure
     */
    public boolean punchHole(long offset, long length) {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("cannot punch a hole of " + length + " bytes at offset " + offset);
        }
        int mode = BoxliteSys.FALLOC_FL_PUNCH_HOLE() | BoxliteSys.FALLOC_FL_KEEP_SIZE();
        int r;
        while ((r = Libc.fallocate(value(), mode, offset, length)) < 0 && Libc.errno() == BoxliteSys.EINTR()) {
            // interrupted by a signal before anything changed: retry
        }
        if (r == 0) {
            return true;
        }
        int errno = Libc.errno();
        if (errno == BoxliteSys.EOPNOTSUPP() || errno == BoxliteSys.ENOSYS()) {
            return false;
        }
        throw new NativeException(ErrorCode.STORAGE, "fallocate(PUNCH_HOLE, " + offset + ", " + length + ")", errno, null);
    }

    /** Most buffers one {@code preadv}/{@code pwritev} takes (Linux's IOV_MAX). */
    public static final int IOV_MAX = 1024;

    /**
     * Reads into {@code buffers} in order from {@code offset} with one {@code preadv(2)} and
     * returns the bytes read: fewer than asked at the end of the file (0 there), or when a
     * signal cut the call short. A call that blocks in the kernel for as long as the disk takes:
     * platform threads only (docs/threading.md).
     *
     * @throws IllegalArgumentException if there are more than {@link #IOV_MAX} buffers
     * @throws NativeException ({@link ErrorCode#STORAGE}) on an I/O error
     */
    public long readAt(List<MemorySegment> buffers, long offset) {
        return vectored(buffers, offset, false);
    }

    /** Like {@link #readAt}, writing {@code buffers} with one {@code pwritev(2)}; may write fewer bytes than given. */
    public long writeAt(List<MemorySegment> buffers, long offset) {
        return vectored(buffers, offset, true);
    }

    /**
     * Whether {@link #readFully}/{@link #writeFully} may serve these buffers from this thread:
     * they are direct, and it is a platform thread (a virtual one must not block in a foreign call).
     */
    public static boolean canTransfer(List<ByteBuffer> buffers) {
        return !Thread.currentThread().isVirtual() && buffers.stream().allMatch(ByteBuffer::isDirect);
    }

    /**
     * Fills {@code buffers} (direct ones) in order from {@code offset}, {@link #IOV_MAX} per
     * {@code preadv}, advancing their positions; returns false, leaving the rest unfilled, if the
     * file ends first. Platform threads only, as {@link #readAt}.
     */
    public boolean readFully(List<ByteBuffer> buffers, long offset) {
        return transferFully(buffers, offset, false);
    }

    /** Writes {@code buffers} (direct ones) in order at {@code offset}, as {@link #readFully} reads. */
    public void writeFully(List<ByteBuffer> buffers, long offset) {
        if (!transferFully(buffers, offset, true)) { // the kernel reports failures as errors, never as 0
            throw new NativeException(ErrorCode.STORAGE, "pwritev at offset " + offset + " wrote nothing",
                    BoxliteSys.EIO(), null);
        }
    }

    private boolean transferFully(List<ByteBuffer> buffers, long offset, boolean write) {
        long pos = offset;
        int first = 0;
        while (true) {
            while (first < buffers.size() && !buffers.get(first).hasRemaining()) {
                first++;
            }
            if (first == buffers.size()) {
                return true;
            }
            List<MemorySegment> batch = new ArrayList<>(Math.min(IOV_MAX, buffers.size() - first));
            for (int i = first; i < buffers.size() && batch.size() < IOV_MAX; i++) {
                if (buffers.get(i).hasRemaining()) {
                    batch.add(MemorySegment.ofBuffer(buffers.get(i)));
                }
            }
            long n = write ? writeAt(batch, pos) : readAt(batch, pos);
            if (n == 0) {
                return false; // end of file on a read
            }
            pos += n;
            for (int i = first; n > 0; i++) { // a short transfer: resume where it stopped
                ByteBuffer b = buffers.get(i);
                int step = (int) Math.min(n, b.remaining());
                b.position(b.position() + step);
                n -= step;
            }
        }
    }

    private long vectored(List<MemorySegment> buffers, long offset, boolean write) {
        if (buffers.isEmpty() || buffers.size() > IOV_MAX || offset < 0) {
            throw new IllegalArgumentException(buffers.size() + " buffers at offset " + offset
                    + ": need 1.." + IOV_MAX + " buffers at a non-negative offset");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = iovec.allocateArray(buffers.size(), arena);
            for (int i = 0; i < buffers.size(); i++) {
                MemorySegment one = iovec.asSlice(iov, i);
                iovec.iov_base(one, buffers.get(i));
                iovec.iov_len(one, buffers.get(i).byteSize());
            }
            long n;
            do {
                n = write ? Libc.pwritev(value(), iov, buffers.size(), offset)
                        : Libc.preadv(value(), iov, buffers.size(), offset);
            } while (n < 0 && Libc.errno() == BoxliteSys.EINTR()); // nothing moved yet: retry
            if (n < 0) {
                throw new NativeException(ErrorCode.STORAGE, (write ? "pwritev" : "preadv") + "(" + buffers.size()
                        + " buffers, offset " + offset + ")", Libc.errno(), null);
            }
            return n;
        }
    }

    /** The descriptor number; throws if closed, so a stale number is never reused by mistake. */
    public int value() {
        int v = fd.get();
        if (v == CLOSED) {
            throw new IllegalStateException("file descriptor already closed");
        }
        return v;
    }

    public boolean isOpen() {
        return fd.get() != CLOSED;
    }

    /** Gives up ownership and returns the number; the caller now closes it. */
    public int release() {
        int v = fd.getAndSet(CLOSED);
        if (v == CLOSED) {
            throw new IllegalStateException("file descriptor already closed");
        }
        return v;
    }

    /** Closes the descriptor; idempotent. A failing close(2) still releases it (Linux semantics). */
    @Override
    public void close() {
        int v = fd.getAndSet(CLOSED);
        if (v != CLOSED && Libc.close(v) < 0) {
            int errno = Libc.errno();
            // EINTR still closed the descriptor on Linux: retrying could close a reused number.
            if (errno != io.boxlite.sys.gen.BoxliteSys.EINTR()) {
                throw new NativeException("close(" + v + ")", errno);
            }
        }
    }

    @Override
    public String toString() {
        int v = fd.get();
        return v == CLOSED ? "Fd[closed]" : "Fd[" + v + "]";
    }
}
