package io.boxlite.sys;

import io.boxlite.ErrorCode;
import io.boxlite.NotFoundException;
import io.boxlite.sys.gen.BoxliteSys;

import java.lang.foreign.Arena;
import java.nio.file.Path;
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
        int r;
        try (Arena arena = Arena.ofConfined()) {
            r = Libc.open(arena.allocateFrom(path.toString()), BoxliteSys.O_RDWR() | BoxliteSys.O_CLOEXEC(), 0);
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
