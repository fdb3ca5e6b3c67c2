package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.termios;
import io.boxlite.sys.gen.winsize;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The host's terminal, for {@code boxlite run -t}: whether a descriptor is a terminal, its size,
 * and raw mode with a guaranteed way back ({@link RawMode#close()}).
 */
public final class Terminal {
    private static final MethodHandle TCGETATTR = Linker.nativeLinker().downcallHandle(BoxliteSys.tcgetattr$address(),
            BoxliteSys.tcgetattr$descriptor(), Linker.Option.captureCallState("errno"));
    private static final MethodHandle TCSETATTR = Linker.nativeLinker().downcallHandle(BoxliteSys.tcsetattr$address(),
            BoxliteSys.tcsetattr$descriptor(), Linker.Option.captureCallState("errno"));

    private Terminal() {
    }

    /** A terminal size in character cells. */
    public record Size(int rows, int cols) {
    }

    /** Whether {@code fd} is a terminal (tcgetattr succeeds on it). */
    public static boolean isTerminal(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            return tcgetattr(fd, arena.allocate(termios.layout())) == 0;
        }
    }

    /** The terminal's size, if {@code fd} is a terminal that knows it. */
    public static Optional<Size> size(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ws = arena.allocate(winsize.layout());
            if (Libc.ioctl(fd, Integer.toUnsignedLong(BoxliteSys.TIOCGWINSZ()), ws) < 0) {
                return Optional.empty();
            }
            int rows = Short.toUnsignedInt(winsize.ws_row(ws));
            int cols = Short.toUnsignedInt(winsize.ws_col(ws));
            return rows == 0 || cols == 0 ? Optional.empty() : Optional.of(new Size(rows, cols));
        }
    }

    /** Raw mode on a terminal; closing restores the settings it replaced. */
    public static final class RawMode implements AutoCloseable {
        private final int fd;
        private final Arena arena;
        private final MemorySegment saved;
        private boolean restored;

        private RawMode(int fd, Arena arena, MemorySegment saved) {
            this.fd = fd;
            this.arena = arena;
            this.saved = saved;
        }

        /** Restores the terminal; idempotent. */
        @Override
        public synchronized void close() {
            if (restored) {
                return;
            }
            restored = true;
            try {
                check("tcsetattr(TCSAFLUSH)", tcsetattr(fd, BoxliteSys.TCSAFLUSH(), saved));
            } finally {
                arena.close();
            }
        }
    }

    /**
     * Puts the terminal on {@code fd} into raw mode (no echo, no line editing, no signals from
     * keys: Ctrl-C goes to the box).
     *
     * @throws NativeException if {@code fd} is not a terminal
     */
    public static RawMode raw(int fd) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment saved = arena.allocate(termios.layout());
            check("tcgetattr", tcgetattr(fd, saved));
            MemorySegment raw = arena.allocate(termios.layout());
            raw.copyFrom(saved);
            BoxliteSys.cfmakeraw(raw);
            // why: keep output post-processing so '\n' from host-side messages still returns the carriage
            termios.c_oflag(raw, termios.c_oflag(saved));
            check("tcsetattr(TCSANOW)", tcsetattr(fd, BoxliteSys.TCSANOW(), raw));
            return new RawMode(fd, arena, saved);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Our wrappers return -errno on failure. */
    private static void check(String operation, int result) {
        if (result < 0) {
            throw new NativeException(operation, -result);
        }
    }

    private static int tcgetattr(int fd, MemorySegment t) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment capture = a.allocate(Linker.Option.captureStateLayout());
            int r = (int) TCGETATTR.invokeExact(capture, fd, t);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable e) {
            throw new IllegalStateException("tcgetattr downcall failed", e);
        }
    }

    private static int tcsetattr(int fd, int action, MemorySegment t) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment capture = a.allocate(Linker.Option.captureStateLayout());
            int r = (int) TCSETATTR.invokeExact(capture, fd, action, t);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable e) {
            throw new IllegalStateException("tcsetattr downcall failed", e);
        }
    }

    private static int errno(MemorySegment capture) {
        return (int) Linker.Option.captureStateLayout()
                .varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno")).get(capture, 0L);
    }
}
