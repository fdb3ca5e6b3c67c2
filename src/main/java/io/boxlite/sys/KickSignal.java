package io.boxlite.sys;

import io.boxlite.ErrorCode;
import io.boxlite.BoxliteException;
import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.timespec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The real-time signal that kicks a vCPU thread out of {@code KVM_RUN} while the guest spins.
 *
 * <p>Recipe: each vCPU thread keeps the signal blocked ({@link #blockInCurrentThread}) and gives
 * KVM a signal mask without it ({@link #kvmRunMask}), so the signal can interrupt only
 * {@code KVM_RUN}, which then fails with EINTR; the vCPU thread consumes it with
 * {@link #drainCurrentThread} ({@code sigtimedwait}, zero timeout). It never runs a handler there.
 *
 * <p>The JVM owns signal handling, and a real-time signal's default action kills the process.
 * So the signal chosen is one whose disposition is still {@code SIG_DFL} (nobody in this process
 * uses it), searched from {@code SIGRTMIN + 6} upward (glibc reserves 32 and 33; other native
 * code commonly takes the first few above SIGRTMIN), and it gets a handler that does nothing: if
 * it is ever delivered to a thread that does not block it, nothing happens. That handler is
 * glibc's {@code getpid} — native, async-signal-safe and without effect — never a Java upcall,
 * which must not run in signal context. {@code SA_RESTART} keeps an interrupted system call of
 * such a thread going.
 */
public final class KickSignal {
    private static final System.Logger LOG = System.getLogger(KickSignal.class.getName());
    private static final int FIRST_OFFSET = 6;
    private static KickSignal installed;

    private final int number;
    private final long pid = ProcessHandle.current().pid();

    private KickSignal(int number) {
        this.number = number;
    }

    /** The process-wide kick signal, installed on first use. */
    public static synchronized KickSignal instance() {
        if (installed == null) {
            installed = new KickSignal(install());
        }
        return installed;
    }

    private static int install() {
        MemorySegment noop = BoxliteSys.getpid$address();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment old = arena.allocate(Libc.SIGACTION_BYTES, 8);
            for (int sig = Libc.sigrtmin() + FIRST_OFFSET; sig <= Libc.sigrtmax(); sig++) {
                Libc.check("sigaction(" + sig + ", query)", Libc.sigaction(sig, MemorySegment.NULL, old));
                long handler = old.get(ValueLayout.JAVA_LONG, 0);
                if (handler != 0 && handler != noop.address()) {
                    continue; // SIG_DFL is 0; anything else belongs to someone
                }
                MemorySegment action = arena.allocate(Libc.SIGACTION_BYTES, 8);
                action.set(ValueLayout.JAVA_LONG, 0, noop.address());
                Libc.check("sigemptyset", BoxliteSys.sigemptyset(action.asSlice(Libc.SIGACTION_MASK_OFFSET)));
                action.set(ValueLayout.JAVA_INT, Libc.SIGACTION_FLAGS_OFFSET, Libc.SA_RESTART);
                Libc.check("sigaction(" + sig + ")", Libc.sigaction(sig, action, MemorySegment.NULL));
                LOG.log(System.Logger.Level.DEBUG, "vCPU kick signal: {0} (SIGRTMIN+{1})", sig, sig - Libc.sigrtmin());
                return sig;
            }
        }
        throw new BoxliteException(ErrorCode.ENGINE, "no free real-time signal for kicking vCPUs: every signal from "
                + "SIGRTMIN+" + FIRST_OFFSET + " to SIGRTMAX has a handler in this process");
    }

    /** The signal number. */
    public int number() {
        return number;
    }

    /** Blocks the signal in the calling thread, for the rest of its life (call on the vCPU thread). */
    public void blockInCurrentThread() {
        try (Arena arena = Arena.ofConfined()) {
            int r = Libc.pthreadSigmask(BoxliteSys.SIG_BLOCK(), set(arena), MemorySegment.NULL);
            if (r != 0) {
                throw new NativeException("pthread_sigmask(SIG_BLOCK, " + number + ")", r);
            }
        }
    }

    /**
     * The calling thread's signal mask without the kick signal, as the 64-bit kernel sigset
     * {@code KVM_SET_SIGNAL_MASK} takes: everything else stays as blocked as it was.
     */
    public long kvmRunMask() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment current = arena.allocate(Libc.SIGSET_BYTES, 8);
            int r = Libc.pthreadSigmask(BoxliteSys.SIG_BLOCK(), MemorySegment.NULL, current);
            if (r != 0) {
                throw new NativeException("pthread_sigmask(query)", r);
            }
            return current.get(ValueLayout.JAVA_LONG, 0) & ~(1L << (number - 1));
        }
    }

    /** Whether the signal is blocked in the calling thread. */
    public boolean blockedInCurrentThread() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment current = arena.allocate(Libc.SIGSET_BYTES, 8);
            int r = Libc.pthreadSigmask(BoxliteSys.SIG_BLOCK(), MemorySegment.NULL, current);
            if (r != 0) {
                throw new NativeException("pthread_sigmask(query)", r);
            }
            return (current.get(ValueLayout.JAVA_LONG, 0) & (1L << (number - 1))) != 0;
        }
    }

    /** Sends the signal to thread {@code tid} of this process; false if that thread is gone. */
    public boolean send(int tid) {
        if (Libc.tgkill(Math.toIntExact(pid), tid, number) < 0) {
            int errno = Libc.errno();
            if (errno == BoxliteSys.ESRCH()) {
                return false;
            }
            throw new NativeException("tgkill(" + tid + ", " + number + ")", errno);
        }
        return true;
    }

    /** Consumes every pending instance of the signal on the calling thread without waiting. */
    public int drainCurrentThread() {
        int taken = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = set(arena);
            MemorySegment zero = timespec.allocate(arena); // zero timeout: poll
            while (true) {
                int r = Libc.sigtimedwait(set, MemorySegment.NULL, zero);
                if (r == number) {
                    taken++;
                    continue;
                }
                int errno = Libc.errno();
                if (r < 0 && errno == BoxliteSys.EAGAIN()) {
                    return taken;
                }
                if (r < 0 && errno == BoxliteSys.EINTR()) {
                    continue;
                }
                throw new NativeException("sigtimedwait(" + number + ")", r < 0 ? errno : 0);
            }
        }
    }

    private MemorySegment set(Arena arena) {
        MemorySegment set = arena.allocate(Libc.SIGSET_BYTES, 8);
        Libc.check("sigemptyset", BoxliteSys.sigemptyset(set));
        Libc.check("sigaddset(" + number + ")", BoxliteSys.sigaddset(set, number));
        return set;
    }
}
