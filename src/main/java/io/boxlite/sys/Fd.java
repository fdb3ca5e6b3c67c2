package io.boxlite.sys;

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
