package io.boxlite.agent.protocol;

import java.util.List;

/**
 * Encoders for the host's requests and validating decoders for the agent's replies, one per
 * message of guest protocol 1 ({@code docs/guest-protocol.md}). Every decoder consumes the
 * whole payload and checks every field's range; it throws {@link AgentProtocolException} and
 * nothing else on bad input.
 */
public final class Messages {
    public static final int PROTOCOL_MAJOR = 1;
    public static final int PROTOCOL_MINOR = 0;

    public static final int EXEC_TTY = 1;
    public static final int SIGNAL_GROUP = 1;
    public static final int COPY_IN_MKDIRS = 1;
    public static final int COPY_IN_NO_OVERWRITE = 2;
    public static final int COPY_OUT_FOLLOW = 1;

    private Messages() {
    }

    /** HELLO: the agent's greeting on every new channel. */
    public record Hello(int major, int minor, long capabilities, int maxPayload, int initialWindow, String agent) {
        public static final long CAP_PTY = 1;
        public static final long CAP_COPY = 2;
        public static final long CAP_STATS = 4;
        public static final long CAP_SHUTDOWN = 8;
        public static final long CAP_USER = 16;

        public boolean has(long capability) {
            return (capabilities & capability) == capability;
        }
    }

    /** ERROR: a request failed, or the peer broke the protocol; the channel closes after it. */
    public record ErrorReply(int code, long errno, String message) {
        public static final int BAD_FRAME = 1;
        public static final int UNSUPPORTED = 2;
        public static final int BAD_REQUEST = 3;
        public static final int NOT_FOUND = 4;
        public static final int PERMISSION = 5;
        public static final int IO = 6;
        public static final int LIMIT = 7;
        public static final int INTERNAL = 8;
    }

    /** EXIT: how the command ended. */
    public record Exit(boolean signaled, int value, boolean timedOut, boolean coreDumped, long durationMicros) {
    }

    /** STATS: the guest's uptime, load and memory. */
    public record Stats(long uptimeMillis, int load1Milli, int load5Milli, int load15Milli, long memTotal,
                        long memFree, long memAvailable, int processes, int cpus) {
    }

    /** COPY_DONE: a copy finished; archive entries and file bytes moved. */
    public record CopyDone(long entries, long bytes) {
    }

    public static Hello hello(Frame f) {
        expect(f, FrameType.HELLO);
        PayloadReader r = new PayloadReader(f);
        int major = r.u16();
        int minor = r.u16();
        long caps = r.u32();
        long maxPayload = r.u32();
        long window = r.u32();
        String agent = r.string(Limits.MAX_MESSAGE, "agent version");
        r.end();
        if (maxPayload < 64 * 1024 || maxPayload > Limits.MAX_PAYLOAD) {
            throw new AgentProtocolException("HELLO announces a frame limit of " + maxPayload
                    + " bytes, outside 64 KiB..1 MiB");
        }
        if (window < Limits.MIN_INITIAL_WINDOW || window > Limits.MAX_INITIAL_WINDOW) {
            throw new AgentProtocolException("HELLO announces an initial window of " + window
                    + " bytes, outside 4 KiB..16 MiB");
        }
        return new Hello(major, minor, caps, (int) maxPayload, (int) window, agent);
    }

    public static ErrorReply error(Frame f) {
        expect(f, FrameType.ERROR);
        PayloadReader r = new PayloadReader(f);
        long code = r.u32();
        long errno = r.u32();
        String message = r.string(Limits.MAX_MESSAGE, "message");
        r.end();
        if (code == 0 || code > Integer.MAX_VALUE) {
            throw new AgentProtocolException("ERROR carries code " + code);
        }
        return new ErrorReply((int) code, errno, message);
    }

    public static long started(Frame f) {
        expect(f, FrameType.STARTED);
        PayloadReader r = new PayloadReader(f);
        long pid = r.u32();
        r.end();
        if (pid == 0 || pid > Integer.MAX_VALUE) {
            throw new AgentProtocolException("STARTED carries pid " + pid);
        }
        return pid;
    }

    /** A WINDOW increment: positive, at most {@link Limits#MAX_WINDOW}. */
    public static long window(Frame f) {
        expect(f, FrameType.WINDOW);
        PayloadReader r = new PayloadReader(f);
        long inc = r.u32();
        r.end();
        if (inc == 0 || inc > Limits.MAX_WINDOW) {
            throw new AgentProtocolException("WINDOW increment " + inc + " is outside 1..2^30");
        }
        return inc;
    }

    public static void eof(Frame f) {
        expect(f, FrameType.EOF);
        new PayloadReader(f).end();
    }

    public static Exit exit(Frame f) {
        expect(f, FrameType.EXIT);
        PayloadReader r = new PayloadReader(f);
        int kind = r.u8();
        int flags = r.u8();
        int reserved = r.u16();
        long value = r.u32();
        long micros = r.u64();
        r.end();
        if (kind > 1 || (flags & ~3) != 0 || reserved != 0) {
            throw new AgentProtocolException("EXIT has kind %d, flags 0x%x, reserved 0x%x".formatted(kind, flags, reserved));
        }
        boolean signaled = kind == 1;
        if (signaled ? value < 1 || value > 64 : value > 255) {
            throw new AgentProtocolException("EXIT carries " + (signaled ? "signal " : "exit code ") + value);
        }
        return new Exit(signaled, (int) value, (flags & 1) != 0, (flags & 2) != 0, micros);
    }

    public static Stats stats(Frame f) {
        expect(f, FrameType.STATS);
        PayloadReader r = new PayloadReader(f);
        long uptime = r.u64();
        long l1 = r.u32();
        long l5 = r.u32();
        long l15 = r.u32();
        long total = r.u64();
        long free = r.u64();
        long avail = r.u64();
        long procs = r.u32();
        long cpus = r.u32();
        r.end();
        if (l1 > Integer.MAX_VALUE || l5 > Integer.MAX_VALUE || l15 > Integer.MAX_VALUE
                || procs > Integer.MAX_VALUE || cpus == 0 || cpus > 4096 || free > total || avail > total) {
            throw new AgentProtocolException("STATS values are out of range");
        }
        return new Stats(uptime, (int) l1, (int) l5, (int) l15, total, free, avail, (int) procs, (int) cpus);
    }

    public static CopyDone copyDone(Frame f) {
        expect(f, FrameType.COPY_DONE);
        PayloadReader r = new PayloadReader(f);
        CopyDone done = new CopyDone(r.u64(), r.u64());
        r.end();
        return done;
    }

    public static void shutdownAck(Frame f) {
        expect(f, FrameType.SHUTDOWN_ACK);
        new PayloadReader(f).end();
    }

    // ---- requests (host to agent); the caller has validated the values ----------------

    public static byte[] exec(int flags, int rows, int cols, long timeoutMillis, String user, String cwd,
                              List<String> argv, List<String> env) {
        PayloadWriter w = new PayloadWriter().u32(flags).u16(rows).u16(cols).u32(timeoutMillis)
                .string(user).string(cwd).u32(argv.size());
        argv.forEach(w::string);
        w.u32(env.size());
        env.forEach(w::string);
        return w.toByteArray();
    }

    public static byte[] u32(long v) {
        return new PayloadWriter().u32(v).toByteArray();
    }

    public static byte[] signal(int signo, int flags) {
        return new PayloadWriter().u32(signo).u32(flags).toByteArray();
    }

    public static byte[] resize(int rows, int cols) {
        return new PayloadWriter().u16(rows).u16(cols).u16(0).u16(0).toByteArray();
    }

    public static byte[] copy(int flags, String path) {
        return new PayloadWriter().u32(flags).string(path).toByteArray();
    }

    public static byte[] shutdown(int action, long graceMillis) {
        return new PayloadWriter().u32(action).u32(graceMillis).toByteArray();
    }

    private static void expect(Frame f, FrameType type) {
        if (f.type() != type) {
            throw new AgentProtocolException("Expected " + type + ", got " + f.describe());
        }
    }
}
