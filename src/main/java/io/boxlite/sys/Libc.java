package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.cmsghdr;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * What jextract cannot generate: errno-capturing downcalls and the {@code CMSG_*} arithmetic.
 *
 * <p>jextract never emits {@code Linker.Option.captureCallState("errno")}, and reading
 * {@code __errno_location()} after a downcall is unreliable because the JVM may run code that
 * clobbers errno in between. So every libc call whose failure we report goes through a handle
 * built here from the generated symbol and descriptor, with errno captured by the linker into
 * a per-thread segment.
 *
 * <p>Methods return the raw result; a negative result means failure and {@link #errno()} holds
 * the value captured by the last call on this thread. {@link #check} turns that into a
 * {@link NativeException}. No other class holds a libc {@code MethodHandle}.
 */
public final class Libc {
    private Libc() {
    }

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // The capture segment must outlive any single call; an automatic arena ties it to the
    // thread-local's lifetime, which is the thread's (virtual threads included).
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private static MethodHandle capturing(MemorySegment address, FunctionDescriptor descriptor) {
        return Linker.nativeLinker().downcallHandle(address, descriptor,
                Linker.Option.captureCallState("errno"));
    }

    private static final class Open {
        static final MethodHandle H = capturing(BoxliteSys.open$address(), BoxliteSys.open$descriptor());
    }
    private static final class Close {
        static final MethodHandle H = capturing(BoxliteSys.close$address(), BoxliteSys.close$descriptor());
    }
    private static final class Read {
        static final MethodHandle H = capturing(BoxliteSys.read$address(), BoxliteSys.read$descriptor());
    }
    private static final class Write {
        static final MethodHandle H = capturing(BoxliteSys.write$address(), BoxliteSys.write$descriptor());
    }
    private static final class Ioctl {
        static final MethodHandle H = capturing(BoxliteSys.ioctl$address(), BoxliteSys.ioctl$descriptor());
    }
    private static final class Mmap {
        static final MethodHandle H = capturing(BoxliteSys.mmap$address(), BoxliteSys.mmap$descriptor());
    }
    private static final class Munmap {
        static final MethodHandle H = capturing(BoxliteSys.munmap$address(), BoxliteSys.munmap$descriptor());
    }
    private static final class Madvise {
        static final MethodHandle H = capturing(BoxliteSys.madvise$address(), BoxliteSys.madvise$descriptor());
    }
    private static final class MemfdCreate {
        static final MethodHandle H = capturing(BoxliteSys.memfd_create$address(), BoxliteSys.memfd_create$descriptor());
    }
    private static final class Fallocate {
        static final MethodHandle H = capturing(BoxliteSys.fallocate$address(), BoxliteSys.fallocate$descriptor());
    }
    private static final class Preadv {
        static final MethodHandle H = capturing(BoxliteSys.preadv$address(), BoxliteSys.preadv$descriptor());
    }
    private static final class Pwritev {
        static final MethodHandle H = capturing(BoxliteSys.pwritev$address(), BoxliteSys.pwritev$descriptor());
    }
    private static final class Ftruncate {
        static final MethodHandle H = capturing(BoxliteSys.ftruncate$address(), BoxliteSys.ftruncate$descriptor());
    }
    private static final class Eventfd {
        static final MethodHandle H = capturing(BoxliteSys.eventfd$address(), BoxliteSys.eventfd$descriptor());
    }
    private static final class EpollCreate1 {
        static final MethodHandle H = capturing(BoxliteSys.epoll_create1$address(), BoxliteSys.epoll_create1$descriptor());
    }
    private static final class EpollCtl {
        static final MethodHandle H = capturing(BoxliteSys.epoll_ctl$address(), BoxliteSys.epoll_ctl$descriptor());
    }
    private static final class EpollWait {
        static final MethodHandle H = capturing(BoxliteSys.epoll_wait$address(), BoxliteSys.epoll_wait$descriptor());
    }
    private static final class Socket {
        static final MethodHandle H = capturing(BoxliteSys.socket$address(), BoxliteSys.socket$descriptor());
    }
    private static final class Socketpair {
        static final MethodHandle H = capturing(BoxliteSys.socketpair$address(), BoxliteSys.socketpair$descriptor());
    }
    private static final class Bind {
        static final MethodHandle H = capturing(BoxliteSys.bind$address(), BoxliteSys.bind$descriptor());
    }
    private static final class Listen {
        static final MethodHandle H = capturing(BoxliteSys.listen$address(), BoxliteSys.listen$descriptor());
    }
    private static final class Accept4 {
        static final MethodHandle H = capturing(BoxliteSys.accept4$address(), BoxliteSys.accept4$descriptor());
    }
    private static final class Connect {
        static final MethodHandle H = capturing(BoxliteSys.connect$address(), BoxliteSys.connect$descriptor());
    }
    private static final class Shutdown {
        static final MethodHandle H = capturing(BoxliteSys.shutdown$address(), BoxliteSys.shutdown$descriptor());
    }
    private static final class Sendmsg {
        static final MethodHandle H = capturing(BoxliteSys.sendmsg$address(), BoxliteSys.sendmsg$descriptor());
    }
    private static final class Recvmsg {
        static final MethodHandle H = capturing(BoxliteSys.recvmsg$address(), BoxliteSys.recvmsg$descriptor());
    }
    private static final class Fcntl {
        static final MethodHandle H = capturing(BoxliteSys.fcntl$address(), BoxliteSys.fcntl$descriptor());
    }
    private static final class Tgkill {
        static final MethodHandle H = capturing(BoxliteSys.tgkill$address(), BoxliteSys.tgkill$descriptor());
    }
    private static final class Poll {
        static final MethodHandle H = capturing(BoxliteSys.poll$address(), BoxliteSys.poll$descriptor());
    }

    /** errno as captured by the last call through this class on the current thread. */
    public static int errno() {
        return (int) ERRNO.get(CAPTURE.get(), 0L);
    }

    /** Returns {@code result} if it is not negative, else throws with the captured errno. */
    public static int check(String operation, int result) {
        if (result < 0) {
            throw new NativeException(operation, errno());
        }
        return result;
    }

    /** Returns {@code result} if it is not negative, else throws with the captured errno. */
    public static long check(String operation, long result) {
        if (result < 0) {
            throw new NativeException(operation, errno());
        }
        return result;
    }

    /** {@code "EAGAIN (Resource temporarily unavailable)"}; thread-safe, unlike strerror. */
    public static String errnoText(int errno) {
        MemorySegment name = BoxliteSys.strerrorname_np(errno);
        MemorySegment desc = BoxliteSys.strerrordesc_np(errno);
        if (name.equals(MemorySegment.NULL) || desc.equals(MemorySegment.NULL)) {
            return "errno " + errno;
        }
        // SAFETY: glibc returns pointers to static NUL-terminated strings; bound the read.
        return name.reinterpret(64).getString(0) + " (" + desc.reinterpret(256).getString(0) + ")";
    }

    // --- calls; each returns the raw C result --------------------------------------------------

    public static int open(MemorySegment path, int flags, int mode) {
        try {
            return (int) Open.H.invokeExact(CAPTURE.get(), path, flags, mode);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int close(int fd) {
        try {
            return (int) Close.H.invokeExact(CAPTURE.get(), fd);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long read(int fd, MemorySegment buf, long count) {
        try {
            return (long) Read.H.invokeExact(CAPTURE.get(), fd, buf, count);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long write(int fd, MemorySegment buf, long count) {
        try {
            return (long) Write.H.invokeExact(CAPTURE.get(), fd, buf, count);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int ioctl(int fd, long request, MemorySegment arg) {
        try {
            return (int) Ioctl.H.invokeExact(CAPTURE.get(), fd, request, arg);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** ioctl with errno captured into the caller's segment: for hot loops that own one. */
    public static int ioctl(MemorySegment capture, int fd, long request, MemorySegment arg) {
        try {
            return (int) Ioctl.H.invokeExact(capture, fd, request, arg);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** A segment to pass to {@link #ioctl(MemorySegment, int, long, MemorySegment)}. */
    public static MemorySegment allocateCapture(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    /** The errno held in a capture segment of {@link #allocateCapture}. */
    public static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    public static MemorySegment mmap(MemorySegment addr, long length, int prot, int flags, int fd, long offset) {
        try {
            return (MemorySegment) Mmap.H.invokeExact(CAPTURE.get(), addr, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int munmap(MemorySegment addr, long length) {
        try {
            return (int) Munmap.H.invokeExact(CAPTURE.get(), addr, length);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int madvise(MemorySegment addr, long length, int advice) {
        try {
            return (int) Madvise.H.invokeExact(CAPTURE.get(), addr, length, advice);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int memfdCreate(MemorySegment name, int flags) {
        try {
            return (int) MemfdCreate.H.invokeExact(CAPTURE.get(), name, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int fallocate(int fd, int mode, long offset, long length) {
        try {
            return (int) Fallocate.H.invokeExact(CAPTURE.get(), fd, mode, offset, length);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long preadv(int fd, MemorySegment iov, int count, long offset) {
        try {
            return (long) Preadv.H.invokeExact(CAPTURE.get(), fd, iov, count, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long pwritev(int fd, MemorySegment iov, int count, long offset) {
        try {
            return (long) Pwritev.H.invokeExact(CAPTURE.get(), fd, iov, count, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int ftruncate(int fd, long length) {
        try {
            return (int) Ftruncate.H.invokeExact(CAPTURE.get(), fd, length);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int eventfd(int initval, int flags) {
        try {
            return (int) Eventfd.H.invokeExact(CAPTURE.get(), initval, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int epollCreate1(int flags) {
        try {
            return (int) EpollCreate1.H.invokeExact(CAPTURE.get(), flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int epollCtl(int epfd, int op, int fd, MemorySegment event) {
        try {
            return (int) EpollCtl.H.invokeExact(CAPTURE.get(), epfd, op, fd, event);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        try {
            return (int) EpollWait.H.invokeExact(CAPTURE.get(), epfd, events, maxEvents, timeoutMillis);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int poll(MemorySegment fds, long nfds, int timeoutMillis) {
        try {
            return (int) Poll.H.invokeExact(CAPTURE.get(), fds, nfds, timeoutMillis);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int socket(int domain, int type, int protocol) {
        try {
            return (int) Socket.H.invokeExact(CAPTURE.get(), domain, type, protocol);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int socketpair(int domain, int type, int protocol, MemorySegment fds) {
        try {
            return (int) Socketpair.H.invokeExact(CAPTURE.get(), domain, type, protocol, fds);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int bind(int fd, MemorySegment addr, int addrLen) {
        try {
            return (int) Bind.H.invokeExact(CAPTURE.get(), fd, addr, addrLen);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int listen(int fd, int backlog) {
        try {
            return (int) Listen.H.invokeExact(CAPTURE.get(), fd, backlog);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int accept4(int fd, MemorySegment addr, MemorySegment addrLen, int flags) {
        try {
            return (int) Accept4.H.invokeExact(CAPTURE.get(), fd, addr, addrLen, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int connect(int fd, MemorySegment addr, int addrLen) {
        try {
            return (int) Connect.H.invokeExact(CAPTURE.get(), fd, addr, addrLen);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int shutdown(int fd, int how) {
        try {
            return (int) Shutdown.H.invokeExact(CAPTURE.get(), fd, how);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long sendmsg(int fd, MemorySegment msg, int flags) {
        try {
            return (long) Sendmsg.H.invokeExact(CAPTURE.get(), fd, msg, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long recvmsg(int fd, MemorySegment msg, int flags) {
        try {
            return (long) Recvmsg.H.invokeExact(CAPTURE.get(), fd, msg, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int fcntl(int fd, int cmd, long arg) {
        try {
            return (int) Fcntl.H.invokeExact(CAPTURE.get(), fd, cmd, arg);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int tgkill(int tgid, int tid, int signal) {
        try {
            return (int) Tgkill.H.invokeExact(CAPTURE.get(), tgid, tid, signal);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // --- signals, for the vCPU kick (io.boxlite.vmm.vstate.KickSignal) ---------------------------
    // gettid, sigaction and the SIGRTMIN/SIGRTMAX functions are not in the generated bindings
    // (jextract-config/includes.txt); they are looked up by name here with their glibc x86-64
    // signatures until the bindings are regenerated.

    private static final Linker LINKER = Linker.nativeLinker();
    private static final class PthreadSigmask {
        static final MethodHandle H = capturing(BoxliteSys.pthread_sigmask$address(), BoxliteSys.pthread_sigmask$descriptor());
    }
    private static final class Sigtimedwait {
        static final MethodHandle H = capturing(BoxliteSys.sigtimedwait$address(), BoxliteSys.sigtimedwait$descriptor());
    }
    private static final class Sigaction {
        static final MethodHandle H = capturing(libcSymbol("sigaction"), FunctionDescriptor.of( ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    }
    private static final class Gettid {
        static final MethodHandle H = LINKER.downcallHandle(libcSymbol("gettid"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }
    private static final class Sigrtmin {
        static final MethodHandle H = LINKER.downcallHandle(libcSymbol("__libc_current_sigrtmin"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }
    private static final class Sigrtmax {
        static final MethodHandle H = LINKER.downcallHandle(libcSymbol("__libc_current_sigrtmax"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
    }

    /** glibc's {@code sigset_t}: 1024 bits; the kernel uses the first 64. */
    public static final long SIGSET_BYTES = 128;
    /** {@code struct sigaction} on x86-64 glibc: handler, sa_mask, sa_flags (+4 padding), sa_restorer. */
    public static final long SIGACTION_BYTES = 8 + SIGSET_BYTES + 8 + 8;
    public static final long SIGACTION_MASK_OFFSET = 8;
    public static final long SIGACTION_FLAGS_OFFSET = 8 + SIGSET_BYTES;
    /** {@code SA_RESTART}: system calls a handler interrupts are restarted, not failed with EINTR. */
    public static final int SA_RESTART = 0x1000_0000;

    private static MemorySegment libcSymbol(String name) {
        return LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
    }

    /** {@code pthread_sigmask}: returns 0 or an error number (it does not set errno). */
    public static int pthreadSigmask(int how, MemorySegment set, MemorySegment oldSet) {
        try {
            return (int) PthreadSigmask.H.invokeExact(CAPTURE.get(), how, set, oldSet);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code sigtimedwait}: the signal taken, or -1 with errno (EAGAIN on timeout). */
    public static int sigtimedwait(MemorySegment set, MemorySegment info, MemorySegment timeout) {
        try {
            return (int) Sigtimedwait.H.invokeExact(CAPTURE.get(), set, info, timeout);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code sigaction(signal, action, oldAction)}; segments of {@link #SIGACTION_BYTES} or NULL. */
    public static int sigaction(int signal, MemorySegment action, MemorySegment oldAction) {
        try {
            return (int) Sigaction.H.invokeExact(CAPTURE.get(), signal, action, oldAction);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** The calling thread's kernel thread id (never fails). */
    public static int gettid() {
        try {
            return (int) Gettid.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** glibc's {@code SIGRTMIN}: the first real-time signal it leaves to applications. */
    public static int sigrtmin() {
        try {
            return (int) Sigrtmin.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** glibc's {@code SIGRTMAX}. */
    public static int sigrtmax() {
        try {
            return (int) Sigrtmax.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    private static AssertionError unexpected(Throwable t) {
        if (t instanceof Error e) {
            throw e;
        }
        return new AssertionError("downcall failed unexpectedly", t);
    }

    // --- control messages: the CMSG_* macros, which are function-like and not generated -------

    /** {@code sizeof(struct cmsghdr)}: 16 on x86-64. */
    public static final long CMSG_HEADER = cmsghdr.sizeof();

    private static long cmsgAlign(long length) {
        long align = ValueLayout.JAVA_LONG.byteSize(); // sizeof(size_t)
        return (length + align - 1) & -align;
    }

    /** {@code CMSG_SPACE(n)}: bytes of control buffer one message with n data bytes takes. */
    public static long cmsgSpace(long dataLength) {
        return cmsgAlign(dataLength) + cmsgAlign(CMSG_HEADER);
    }

    /** {@code CMSG_LEN(n)}: the {@code cmsg_len} value of a message with n data bytes. */
    public static long cmsgLen(long dataLength) {
        return cmsgAlign(CMSG_HEADER) + dataLength;
    }

    /** {@code CMSG_NXTHDR} offset arithmetic: where the message after one of {@code cmsgLen} starts. */
    public static long cmsgNext(long offset, long cmsgLen) {
        return offset + cmsgAlign(cmsgLen);
    }
}
