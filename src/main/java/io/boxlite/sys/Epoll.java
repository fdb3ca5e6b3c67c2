package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.epoll_event;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An epoll instance for one event-loop platform thread. Each registered descriptor carries a
 * caller-chosen 64-bit token that comes back with its events.
 *
 * <p>Not thread-safe for {@link #await}: one thread waits; {@link #add}/{@link #remove} may be
 * called from others (epoll_ctl is safe concurrently with epoll_wait).
 */
public final class Epoll implements AutoCloseable {
    /** Readable. */
    public static final int IN = BoxliteSys.EPOLLIN();
    /** Writable. */
    public static final int OUT = BoxliteSys.EPOLLOUT();
    /** Error condition (always reported). */
    public static final int ERR = BoxliteSys.EPOLLERR();
    /** Hang-up (always reported). */
    public static final int HUP = BoxliteSys.EPOLLHUP();
    /** Peer closed its writing end. */
    public static final int RDHUP = BoxliteSys.EPOLLRDHUP();

    // struct epoll_event is packed on x86-64: its 64-bit data sits at offset 4, unaligned, which
    // the generated (aligned) epoll_data accessors refuse.
    private static final java.lang.foreign.ValueLayout.OfLong TOKEN = java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

    private final Fd fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events;
    private final int capacity;

    /** One ready descriptor: its token and the events that fired. */
    public record Event(long token, int events) {
        public boolean readable() {
            return (events & IN) != 0;
        }

        public boolean hangup() {
            return (events & (HUP | ERR | RDHUP)) != 0;
        }
    }

    private Epoll(Fd fd, int capacity) {
        this.fd = fd;
        this.capacity = capacity;
        this.events = epoll_event.allocateArray(capacity, arena);
    }

    /** A close-on-exec epoll instance that returns at most {@code capacity} events per wait. */
    public static Epoll create(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        int epfd = Libc.check("epoll_create1", Libc.epollCreate1(BoxliteSys.EPOLL_CLOEXEC()));
        return new Epoll(Fd.adopt(epfd), capacity);
    }

    public void add(int targetFd, int eventMask, long token) {
        control(BoxliteSys.EPOLL_CTL_ADD(), "EPOLL_CTL_ADD", targetFd, eventMask, token);
    }

    public void modify(int targetFd, int eventMask, long token) {
        control(BoxliteSys.EPOLL_CTL_MOD(), "EPOLL_CTL_MOD", targetFd, eventMask, token);
    }

    public void remove(int targetFd) {
        control(BoxliteSys.EPOLL_CTL_DEL(), "EPOLL_CTL_DEL", targetFd, 0, 0);
    }

    private void control(int op, String name, int targetFd, int eventMask, long token) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment ev = epoll_event.allocate(call);
            epoll_event.events(ev, eventMask);
            ev.set(TOKEN, epoll_event.data$offset(), token);
            Libc.check("epoll_ctl(" + name + ", fd " + targetFd + ")", Libc.epollCtl(fd.value(), op, targetFd, ev));
        }
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: forever) and hands each ready event to
     * {@code sink}. Returns the number of events; 0 on timeout or when interrupted by a signal.
     */
    public int await(int timeoutMillis, java.util.function.Consumer<Event> sink) {
        int n = Libc.epollWait(fd.value(), events, capacity, timeoutMillis);
        if (n < 0) {
            int errno = Libc.errno();
            if (errno == BoxliteSys.EINTR()) {
                return 0;
            }
            throw new NativeException("epoll_wait", errno);
        }
        for (int i = 0; i < n; i++) {
            MemorySegment ev = epoll_event.asSlice(events, i);
            sink.accept(new Event(ev.get(TOKEN, epoll_event.data$offset()), epoll_event.events(ev)));
        }
        return n;
    }

    @Override
    public void close() {
        try {
            fd.close();
        } finally {
            arena.close();
        }
    }
}
