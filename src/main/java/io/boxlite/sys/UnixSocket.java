package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.cmsghdr;
import io.boxlite.sys.gen.iovec;
import io.boxlite.sys.gen.msghdr;
import io.boxlite.sys.gen.sockaddr_un;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An AF_UNIX stream socket that can pass file descriptors (SCM_RIGHTS), as the vhost-user
 * protocol needs. java.nio's Unix-domain channels cannot carry descriptors, hence this type.
 *
 * <p>All calls block; use them on platform threads (docs/threading.md).
 */
public final class UnixSocket implements AutoCloseable {
    /** Most descriptors one message may carry (the kernel's SCM_MAX_FD is 253; vhost-user sends ≤ 8). */
    public static final int MAX_FDS = 32;
    private static final int SUN_PATH_MAX = (int) sockaddr_un.sun_path$layout().byteSize();

    private final Fd fd;

    private UnixSocket(Fd fd) {
        this.fd = fd;
    }

    /** What one {@link #receive} call got: the byte count (0 at end of stream) and any descriptors. */
    public record Received(int bytes, List<Fd> fds) implements AutoCloseable {
        public boolean endOfStream() {
            return bytes == 0 && fds.isEmpty();
        }

        /** Closes every descriptor nobody took over. */
        @Override
        public void close() {
            for (Fd f : fds) {
                if (f.isOpen()) {
                    f.close();
                }
            }
        }
    }

    /** A connected pair, both ends close-on-exec. */
    public static UnixSocket[] pair() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            Libc.check("socketpair(AF_UNIX)", Libc.socketpair(BoxliteSys.AF_UNIX(),
                    BoxliteSys.SOCK_STREAM() | BoxliteSys.SOCK_CLOEXEC(), 0, fds));
            return new UnixSocket[] {
                new UnixSocket(Fd.adopt(fds.getAtIndex(ValueLayout.JAVA_INT, 0))),
                new UnixSocket(Fd.adopt(fds.getAtIndex(ValueLayout.JAVA_INT, 1)))
            };
        }
    }

    /** A listening socket bound at {@code path} (which must not exist). */
    public static UnixSocket listen(Path path, int backlog) {
        Fd fd = Fd.adopt(Libc.check("socket(AF_UNIX)",
                Libc.socket(BoxliteSys.AF_UNIX(), BoxliteSys.SOCK_STREAM() | BoxliteSys.SOCK_CLOEXEC(), 0)));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = address(arena, path);
            Libc.check("bind(" + path + ")", Libc.bind(fd.value(), addr, (int) addr.byteSize()));
            Libc.check("listen(" + path + ")", Libc.listen(fd.value(), backlog));
            return new UnixSocket(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** A socket connected to the listener at {@code path}. */
    public static UnixSocket connect(Path path) {
        Fd fd = Fd.adopt(Libc.check("socket(AF_UNIX)",
                Libc.socket(BoxliteSys.AF_UNIX(), BoxliteSys.SOCK_STREAM() | BoxliteSys.SOCK_CLOEXEC(), 0)));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = address(arena, path);
            Libc.check("connect(" + path + ")", Libc.connect(fd.value(), addr, (int) addr.byteSize()));
            return new UnixSocket(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static MemorySegment address(Arena arena, Path path) {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= SUN_PATH_MAX) {
            throw new IllegalArgumentException("Unix socket path is " + name.length + " bytes, over the "
                    + (SUN_PATH_MAX - 1) + "-byte limit of sun_path: " + path
                    + " (use a short socket directory, see io.boxlite.home.SocketPaths)");
        }
        MemorySegment addr = sockaddr_un.allocate(arena);
        sockaddr_un.sun_family(addr, (short) BoxliteSys.AF_UNIX());
        MemorySegment.copy(name, 0, sockaddr_un.sun_path(addr), ValueLayout.JAVA_BYTE, 0, name.length);
        return addr; // zero-filled by allocate, so sun_path is NUL-terminated
    }

    /** Waits for one connection on a listening socket. */
    public UnixSocket accept() {
        while (true) {
            int r = Libc.accept4(fd.value(), MemorySegment.NULL, MemorySegment.NULL, BoxliteSys.SOCK_CLOEXEC());
            if (r >= 0) {
                return new UnixSocket(Fd.adopt(r));
            }
            int errno = Libc.errno();
            if (errno != BoxliteSys.EINTR()) {
                throw new NativeException("accept4", errno);
            }
        }
    }

    public int fd() {
        return fd.value();
    }

    /**
     * Sends all of {@code data}, with {@code fds} attached to its first byte. Returns once the
     * kernel has taken every byte. The descriptors stay owned by the caller.
     */
    public void send(byte[] data, int... fds) {
        if (fds.length > MAX_FDS) {
            throw new IllegalArgumentException("at most " + MAX_FDS + " descriptors per message, got " + fds.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, data.length);
            long off = 0;
            boolean first = true;
            do {
                MemorySegment msg = message(arena, buf.asSlice(off, data.length - off), first ? fds : new int[0]);
                long n = Libc.sendmsg(fd.value(), msg, BoxliteSys.MSG_NOSIGNAL());
                if (n < 0) {
                    int errno = Libc.errno();
                    if (errno == BoxliteSys.EINTR()) {
                        continue;
                    }
                    throw new NativeException("sendmsg", errno);
                }
                first = false;
                off += n;
            } while (off < data.length);
        }
    }

    private static MemorySegment message(Arena arena, MemorySegment data, int[] fds) {
        MemorySegment iov = iovec.allocate(arena);
        iovec.iov_base(iov, data);
        iovec.iov_len(iov, data.byteSize());
        MemorySegment msg = msghdr.allocate(arena);
        msghdr.msg_iov(msg, iov);
        msghdr.msg_iovlen(msg, 1);
        if (fds.length > 0) {
            long dataLen = (long) fds.length * Integer.BYTES;
            MemorySegment control = arena.allocate(Libc.cmsgSpace(dataLen), 8);
            cmsghdr.cmsg_len(control, Libc.cmsgLen(dataLen));
            cmsghdr.cmsg_level(control, BoxliteSys.SOL_SOCKET());
            cmsghdr.cmsg_type(control, BoxliteSys.SCM_RIGHTS());
            for (int i = 0; i < fds.length; i++) {
                control.set(ValueLayout.JAVA_INT, Libc.CMSG_HEADER + (long) i * Integer.BYTES, fds[i]);
            }
            msghdr.msg_control(msg, control);
            msghdr.msg_controllen(msg, control.byteSize());
        }
        return msg;
    }

    /**
     * Receives up to {@code buf.byteSize()} bytes and any descriptors sent with them. Received
     * descriptors are owned by the result. A message whose descriptors were truncated
     * (MSG_CTRUNC) is refused: its surviving descriptors are closed and an exception thrown.
     */
    public Received receive(MemorySegment buf) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment iov = iovec.allocate(arena);
            iovec.iov_base(iov, buf);
            iovec.iov_len(iov, buf.byteSize());
            MemorySegment control = arena.allocate(Libc.cmsgSpace((long) MAX_FDS * Integer.BYTES), 8);
            MemorySegment msg = msghdr.allocate(arena);
            msghdr.msg_iov(msg, iov);
            msghdr.msg_iovlen(msg, 1);
            msghdr.msg_control(msg, control);
            msghdr.msg_controllen(msg, control.byteSize());
            long n;
            while ((n = Libc.recvmsg(fd.value(), msg, BoxliteSys.MSG_CMSG_CLOEXEC())) < 0) {
                int errno = Libc.errno();
                if (errno != BoxliteSys.EINTR()) {
                    throw new NativeException("recvmsg", errno);
                }
            }
            List<Fd> fds = collectRights(control, msghdr.msg_controllen(msg));
            if ((msghdr.msg_flags(msg) & BoxliteSys.MSG_CTRUNC()) != 0) {
                fds.forEach(Fd::close);
                throw new NativeException(io.boxlite.ErrorCode.INTERNAL, "recvmsg", BoxliteSys.EMSGSIZE(),
                        "The peer sent more than " + MAX_FDS + " descriptors; message refused");
            }
            return new Received(Math.toIntExact(n), List.copyOf(fds));
        }
    }

    /** Walks the control buffer the kernel filled ({@code CMSG_FIRSTHDR}/{@code CMSG_NXTHDR}). */
    private static List<Fd> collectRights(MemorySegment control, long controlLen) {
        List<Fd> fds = new ArrayList<>();
        long limit = Math.min(controlLen, control.byteSize());
        long off = 0;
        while (off + Libc.CMSG_HEADER <= limit) {
            MemorySegment hdr = control.asSlice(off);
            long len = cmsghdr.cmsg_len(hdr);
            if (len < Libc.CMSG_HEADER || off + len > limit) {
                break;
            }
            if (cmsghdr.cmsg_level(hdr) == BoxliteSys.SOL_SOCKET() && cmsghdr.cmsg_type(hdr) == BoxliteSys.SCM_RIGHTS()) {
                long count = (len - Libc.CMSG_HEADER) / Integer.BYTES;
                for (long i = 0; i < count; i++) {
                    fds.add(Fd.adopt(hdr.get(ValueLayout.JAVA_INT, Libc.CMSG_HEADER + i * Integer.BYTES)));
                }
            }
            off = Libc.cmsgNext(off, len);
        }
        return fds;
    }

    /** Stops further sends (SHUT_WR); the peer reads end of stream. */
    public void shutdownOutput() {
        Libc.check("shutdown(SHUT_WR)", Libc.shutdown(fd.value(), BoxliteSys.SHUT_WR()));
    }

    @Override
    public void close() {
        fd.close();
    }
}
