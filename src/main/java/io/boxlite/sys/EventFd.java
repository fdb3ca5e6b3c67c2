package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.OptionalLong;

/**
 * An eventfd(2): a 64-bit counter the kernel and user space signal each other through
 * (KVM ioeventfd kicks, irqfd interrupts, vhost-user kick/call). Blocking reads belong on
 * platform threads (see docs/threading.md).
 */
public final class EventFd implements AutoCloseable {
    private final Fd fd;

    private EventFd(Fd fd) {
        this.fd = fd;
    }

    /** A blocking eventfd, close-on-exec. */
    public static EventFd create() {
        return create(false);
    }

    /** An eventfd, close-on-exec, optionally non-blocking. */
    public static EventFd create(boolean nonBlocking) {
        int flags = BoxliteSys.EFD_CLOEXEC() | (nonBlocking ? BoxliteSys.EFD_NONBLOCK() : 0);
        return new EventFd(Fd.adopt(Libc.check("eventfd", Libc.eventfd(0, flags))));
    }

    /** Takes ownership of an eventfd received from elsewhere (e.g. over a vhost-user socket). */
    public static EventFd adopt(Fd fd) {
        return new EventFd(fd);
    }

    public int fd() {
        return fd.value();
    }

    /** Adds {@code value} to the counter, waking readers. */
    public void signal(long value) {
        if (value <= 0) {
            throw new IllegalArgumentException("eventfd increment must be positive: " + value);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_LONG, value);
            long n = Libc.write(fd.value(), buf, 8);
            if (n != 8) {
                throw new NativeException("write(eventfd)", n < 0 ? Libc.errno() : 0);
            }
        }
    }

    /** Adds 1 to the counter. */
    public void signal() {
        signal(1);
    }

    /**
     * Reads and resets the counter. Blocks while it is zero on a blocking eventfd; on a
     * non-blocking one returns empty instead. Interrupted reads are retried.
     */
    public OptionalLong read() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
            while (true) {
                long n = Libc.read(fd.value(), buf, 8);
                if (n == 8) {
                    return OptionalLong.of(buf.get(ValueLayout.JAVA_LONG, 0));
                }
                int errno = n < 0 ? Libc.errno() : 0;
                if (errno == BoxliteSys.EAGAIN()) {
                    return OptionalLong.empty();
                }
                if (errno != BoxliteSys.EINTR()) {
                    throw new NativeException("read(eventfd)", errno);
                }
            }
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
