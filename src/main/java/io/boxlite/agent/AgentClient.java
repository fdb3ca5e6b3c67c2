package io.boxlite.agent;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.StorageException;
import io.boxlite.UnsupportedException;
import io.boxlite.agent.protocol.AgentProtocolException;
import io.boxlite.agent.protocol.Frame;
import io.boxlite.agent.protocol.FrameType;
import io.boxlite.agent.protocol.Limits;
import io.boxlite.agent.protocol.Messages;
import io.boxlite.agent.protocol.Messages.Hello;
import io.boxlite.agent.protocol.StreamId;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The host side of the guest agent (internal API): runs commands, copies trees in and out as
 * tar streams, reads guest statistics and shuts the guest down. Every operation opens its own
 * channel through the {@link GuestConnector}, so a flooding command or a large copy never
 * delays another operation, and a channel broken by a malformed frame fails only its own
 * operation.
 *
 * {@snippet :
 * try (AgentClient agent = AgentClient.connect(connector, AgentClient.DEFAULT_PORT)) {
 *     try (Execution run = agent.exec(ExecRequest.builder("uname", "-a").build())) {
 *         System.out.print(new String(run.stdout().readAllBytes(), StandardCharsets.UTF_8));
 *         System.out.println("exit " + run.waitFor().exitCode());
 *     }
 * }
 * }
 *
 * <p>Blocking methods are cheap on virtual threads; stream pumps run on virtual threads.
 * Thread-safe. {@link #close()} kills the executions still running.
 */
public final class AgentClient implements AutoCloseable {
    /** The agent's vsock port in a box. */
    public static final int DEFAULT_PORT = 1024;
    /** How long a new channel may take to receive the agent's HELLO. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    /** How long a control request (ping, stats) may take. */
    public static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(30);

    private final GuestConnector connector;
    private final int port;
    private final Duration handshakeTimeout;
    private final Hello hello;
    private final Set<Execution> running = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private AgentClient(GuestConnector connector, int port, Duration handshakeTimeout, Hello hello) {
        this.connector = connector;
        this.port = port;
        this.handshakeTimeout = handshakeTimeout;
        this.hello = hello;
    }

    /** Connects with the {@linkplain #DEFAULT_HANDSHAKE_TIMEOUT default handshake timeout}. */
    public static AgentClient connect(GuestConnector connector, int port) {
        return connect(connector, port, DEFAULT_HANDSHAKE_TIMEOUT);
    }

    /**
     * Greets the agent on {@code port} and checks its protocol version with a PING round trip.
     *
     * @throws UnsupportedException if the agent speaks another major protocol version
     * @throws BoxliteException ({@link ErrorCode#RPC_TRANSPORT}) if it cannot be reached in time
     */
    public static AgentClient connect(GuestConnector connector, int port, Duration handshakeTimeout) {
        Objects.requireNonNull(connector, "connector");
        if (port < 0) {
            throw new InvalidArgumentException("Port " + port + " is negative");
        }
        if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
            throw new InvalidArgumentException("Handshake timeout must be positive, not " + handshakeTimeout);
        }
        try (AgentChannel ch = AgentChannel.open(connector, port, handshakeTimeout)) {
            byte[] token = "boxlite".getBytes(StandardCharsets.US_ASCII);
            Frame pong = request(ch, FrameType.PING, token, CONTROL_TIMEOUT, "ping");
            if (pong.type() != FrameType.PONG || !Arrays.equals(pong.payload(), token)) {
                throw new AgentProtocolException("The guest agent answered PING with " + pong.describe());
            }
            return new AgentClient(connector, port, handshakeTimeout, ch.hello());
        }
    }

    /** The agent's greeting: protocol version, capabilities, agent version. */
    public Hello info() {
        return hello;
    }

    /** Starts a command; see {@link Execution} for draining its output. */
    public Execution exec(ExecRequest request) {
        return exec(request, null);
    }

    /**
     * Starts a command whose output goes to {@code listener} (null: read the streams instead).
     *
     * @throws GuestAgentException if the command, its working directory or its user is not found
     *     ({@link GuestAgentException#notFound()}) or cannot be used
     */
    public Execution exec(ExecRequest request, OutputListener listener) {
        Objects.requireNonNull(request, "request");
        if (request.tty().isPresent() && !hello.has(Hello.CAP_PTY)) {
            throw new UnsupportedException("The guest agent (" + hello.agent() + ") cannot allocate a TTY");
        }
        if (!request.user().isEmpty() && !hello.has(Hello.CAP_USER)) {
            throw new UnsupportedException("The guest agent (" + hello.agent() + ") cannot switch users");
        }
        AgentChannel ch = open();
        try {
            TtySize tty = request.tty().orElse(null);
            ch.send(FrameType.EXEC, StreamId.NONE, Messages.exec(tty != null ? Messages.EXEC_TTY : 0,
                    tty != null ? tty.rows() : 0, tty != null ? tty.cols() : 0, request.timeout().toMillis(),
                    request.user(), request.workingDir(), request.argv(), request.env()));
            Frame f = ch.expectFrame("starting '" + request.argv().getFirst() + "'");
            if (f.type() == FrameType.ERROR) {
                throw new GuestAgentException("Cannot start '" + request.argv().getFirst() + "'", Messages.error(f));
            }
            long pid = Messages.started(f);
            Execution execution = new Execution(ch, pid, tty != null, listener, running::remove);
            running.add(execution);
            if (closed) {
                execution.close();
                throw new InvalidStateException("The agent client is closed");
            }
            return execution;
        } catch (IOException e) {
            ch.close();
            throw transport("start '" + request.argv().getFirst() + "'", e);
        } catch (RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Extracts the tar stream {@code tar} (ustar, pax or GNU) into the guest directory
     * {@code guestDir}. Members may not leave the directory ({@code ..} fails the copy) and are
     * never written through symlinks; an existing file is replaced unless
     * {@link CopyOption#NO_OVERWRITE}. Ownership is kept (the agent runs as root), as are modes
     * and file modification times.
     *
     * @throws GuestAgentException if the archive is malformed or unsafe or the guest cannot write;
     *     what was extracted before the failure stays
     */
    public CopyResult copyIn(InputStream tar, String guestDir, CopyOption... options) {
        Objects.requireNonNull(tar, "tar");
        Set<CopyOption> opts = Set.of(options);
        checkGuestPath(guestDir);
        if (opts.contains(CopyOption.FOLLOW_SYMLINK)) {
            throw new InvalidArgumentException("FOLLOW_SYMLINK applies to copyOut only");
        }
        int flags = (opts.contains(CopyOption.CREATE_DIRECTORIES) ? Messages.COPY_IN_MKDIRS : 0)
                | (opts.contains(CopyOption.NO_OVERWRITE) ? Messages.COPY_IN_NO_OVERWRITE : 0);
        try (AgentChannel ch = open()) {
            ch.send(FrameType.COPY_IN, StreamId.NONE, Messages.copy(flags, guestDir));
            OutboundStream archive = new OutboundStream(ch, "the archive", hello.initialWindow());
            CompletableFuture<CopyResult> done = new CompletableFuture<>();
            Thread.ofVirtual().name("boxlite-copy-in").start(() -> copyInReplies(ch, archive, guestDir, done));
            try {
                byte[] buf = new byte[Limits.DATA_CHUNK];
                int n;
                while ((n = readArchive(tar, buf, guestDir)) > 0) {
                    archive.write(buf, 0, n);
                }
                archive.close();
            } catch (IOException e) {
                // The agent may have refused the archive and closed: prefer its reason.
                try {
                    done.get(5, TimeUnit.SECONDS);
                } catch (InterruptedException | ExecutionException | TimeoutException ignored) {
                    // reported below
                }
                if (!done.isDone()) {
                    throw transport("copy into '" + guestDir + "'", e);
                }
            }
            return await(done, "copy into '" + guestDir + "'");
        } catch (IOException e) {
            throw transport("copy into '" + guestDir + "'", e);
        }
    }

    private static int readArchive(InputStream tar, byte[] buf, String guestDir) {
        try {
            return tar.read(buf);
        } catch (IOException e) {
            throw new StorageException("Reading the archive for '" + guestDir + "' failed: " + e.getMessage(), e);
        }
    }

    private static void copyInReplies(AgentChannel ch, OutboundStream archive, String dir,
                                      CompletableFuture<CopyResult> done) {
        try {
            while (true) {
                Frame f = ch.expectFrame("copying into '" + dir + "'");
                switch (f.type()) {
                    case WINDOW -> {
                        if (f.stream() != StreamId.STDIN) {
                            throw new AgentProtocolException("Unexpected " + f.describe() + " during copy-in");
                        }
                        archive.grant(Messages.window(f));
                    }
                    case COPY_DONE -> {
                        Messages.CopyDone d = Messages.copyDone(f);
                        done.complete(new CopyResult(d.entries(), d.bytes()));
                        return;
                    }
                    case ERROR -> throw new GuestAgentException("Copy into '" + dir + "' failed", Messages.error(f));
                    default -> throw new AgentProtocolException("Unexpected " + f.describe() + " during copy-in");
                }
            }
        } catch (Throwable t) {
            done.completeExceptionally(t);
        } finally {
            archive.end("the copy has ended");
        }
    }

    /**
     * Writes the guest file or tree at {@code guestPath} to {@code tar} as a ustar/pax archive
     * whose members are named after the path's last component (like {@code tar -C dir base}).
     * Symlinks inside the tree are archived as symlinks.
     *
     * @throws GuestAgentException if the path does not exist or cannot be read; {@code tar} then
     *     holds a partial archive that must be discarded
     */
    public CopyResult copyOut(String guestPath, OutputStream tar, CopyOption... options) {
        Objects.requireNonNull(tar, "tar");
        Set<CopyOption> opts = Set.of(options);
        checkGuestPath(guestPath);
        if (opts.contains(CopyOption.CREATE_DIRECTORIES) || opts.contains(CopyOption.NO_OVERWRITE)) {
            throw new InvalidArgumentException("CREATE_DIRECTORIES and NO_OVERWRITE apply to copyIn only");
        }
        int flags = opts.contains(CopyOption.FOLLOW_SYMLINK) ? Messages.COPY_OUT_FOLLOW : 0;
        String what = "copy out '" + guestPath + "'";
        try (AgentChannel ch = open()) {
            ch.send(FrameType.COPY_OUT, StreamId.NONE, Messages.copy(flags, guestPath));
            long credit = hello.initialWindow();
            long ungranted = 0;
            boolean eof = false;
            while (true) {
                Frame f = ch.expectFrame("copying out '" + guestPath + "'");
                switch (f.type()) {
                    case DATA -> {
                        if (f.stream() != StreamId.STDOUT || eof || f.payload().length > credit) {
                            throw new AgentProtocolException("The guest agent sent " + f.describe()
                                    + " beyond the archive's window or after its end");
                        }
                        credit -= f.payload().length;
                        try {
                            tar.write(f.payload());
                        } catch (IOException e) {
                            throw new StorageException("Writing the archive of '" + guestPath + "' failed: "
                                    + e.getMessage(), e);
                        }
                        ungranted += f.payload().length;
                        if (ungranted >= hello.initialWindow() / 4) {
                            ch.send(FrameType.WINDOW, StreamId.STDOUT, Messages.u32(ungranted));
                            credit += ungranted;
                            ungranted = 0;
                        }
                    }
                    case EOF -> {
                        Messages.eof(f);
                        if (f.stream() != StreamId.STDOUT) {
                            throw new AgentProtocolException("Unexpected " + f.describe() + " during copy-out");
                        }
                        eof = true;
                    }
                    case COPY_DONE -> {
                        if (!eof) {
                            throw new AgentProtocolException("COPY_DONE arrived before the archive's EOF");
                        }
                        Messages.CopyDone d = Messages.copyDone(f);
                        return new CopyResult(d.entries(), d.bytes());
                    }
                    case ERROR -> throw new GuestAgentException("Cannot " + what, Messages.error(f));
                    default -> throw new AgentProtocolException("Unexpected " + f.describe() + " during copy-out");
                }
            }
        } catch (IOException e) {
            throw transport(what, e);
        }
    }

    /** Reads the guest's uptime, load and memory. */
    public GuestStats stats() {
        try (AgentChannel ch = open()) {
            Frame f = request(ch, FrameType.STATS_REQUEST, new byte[0], CONTROL_TIMEOUT, "read stats");
            Messages.Stats s = Messages.stats(f);
            return new GuestStats(Duration.ofMillis(s.uptimeMillis()), s.load1Milli() / 1000.0,
                    s.load5Milli() / 1000.0, s.load15Milli() / 1000.0, s.memTotal(), s.memFree(),
                    s.memAvailable(), s.processes(), s.cpus());
        }
    }

    /** One PING round trip on a fresh channel; returns how long it took. */
    public Duration ping() {
        long start = System.nanoTime();
        try (AgentChannel ch = open()) {
            Frame f = request(ch, FrameType.PING, new byte[] {1}, CONTROL_TIMEOUT, "ping");
            if (f.type() != FrameType.PONG || f.payload().length != 1 || f.payload()[0] != 1) {
                throw new AgentProtocolException("The guest agent answered PING with " + f.describe());
            }
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    /**
     * Orderly shutdown: the agent (as the guest's init) sends SIGTERM to every process, waits up
     * to {@code grace}, kills what is left, syncs the disks, acknowledges, remounts the root
     * read-only and calls {@code reboot(2)} with the action. Returns once the disks are synced;
     * the VMM then sees the guest power off (or reset). An agent that is not PID 1 (tests) syncs
     * and exits instead.
     */
    public void shutdown(ShutdownAction action, Duration grace) {
        Objects.requireNonNull(action, "action");
        if (grace.isNegative() || grace.toMillis() > 600_000) {
            throw new InvalidArgumentException("Shutdown grace " + grace + " is outside 0..10 minutes");
        }
        if (!hello.has(Hello.CAP_SHUTDOWN)) {
            throw new UnsupportedException("The guest agent (" + hello.agent() + ") cannot shut the guest down");
        }
        try (AgentChannel ch = open()) {
            Frame f = request(ch, FrameType.SHUTDOWN, Messages.shutdown(action.code(), grace.toMillis()),
                    grace.plus(CONTROL_TIMEOUT), "shut down");
            Messages.shutdownAck(f);
        }
    }

    /** Kills every execution still running. Idempotent. */
    @Override
    public void close() {
        closed = true;
        for (Execution e : running) {
            e.close();
        }
    }

    private AgentChannel open() {
        if (closed) {
            throw new InvalidStateException("The agent client is closed");
        }
        AgentChannel ch = AgentChannel.open(connector, port, handshakeTimeout);
        if (ch.hello().major() != hello.major()) {
            ch.close();
            throw new AgentProtocolException("The guest agent changed its protocol version between channels");
        }
        return ch;
    }

    /** Sends one control request and waits at most {@code timeout} for its reply (ERROR throws). */
    private static Frame request(AgentChannel ch, FrameType type, byte[] payload, Duration timeout, String what) {
        CompletableFuture<Frame> reply = new CompletableFuture<>();
        Thread.ofVirtual().name("boxlite-agent-" + type).start(() -> {
            try {
                ch.send(type, StreamId.NONE, payload);
                reply.complete(ch.expectFrame("waiting to " + what));
            } catch (Throwable t) {
                reply.completeExceptionally(t);
            }
        });
        Frame f = await(reply, what, timeout, ch);
        if (f.type() == FrameType.ERROR) {
            throw new GuestAgentException("Cannot " + what, Messages.error(f));
        }
        return f;
    }

    private static <T> T await(CompletableFuture<T> future, String what) {
        return await(future, what, null, null);
    }

    private static <T> T await(CompletableFuture<T> future, String what, Duration timeout, AgentChannel ch) {
        try {
            return timeout == null ? future.get() : future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            ch.close();
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "The guest agent did not answer within "
                    + timeout.toMillis() + " ms to " + what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "Interrupted while waiting to " + what);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof BoxliteException b) {
                throw b;
            }
            throw transport(what, e.getCause());
        }
    }

    private static BoxliteException transport(String what, Throwable cause) {
        return new BoxliteException(ErrorCode.RPC_TRANSPORT,
                "Cannot " + what + ": the agent channel failed: " + cause.getMessage(), cause);
    }

    private static void checkGuestPath(String path) {
        Objects.requireNonNull(path, "path");
        if (!path.startsWith("/") || path.indexOf('\0') >= 0
                || path.getBytes(StandardCharsets.UTF_8).length > Limits.MAX_STRING) {
            throw new InvalidArgumentException("Guest path '" + path.replace('\0', '?')
                    + "' must be absolute, without NUL, at most " + Limits.MAX_STRING + " bytes");
        }
    }

}
