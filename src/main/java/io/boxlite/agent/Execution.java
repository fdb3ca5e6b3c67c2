package io.boxlite.agent;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.agent.protocol.AgentProtocolException;
import io.boxlite.agent.protocol.Frame;
import io.boxlite.agent.protocol.FrameType;
import io.boxlite.agent.protocol.Limits;
import io.boxlite.agent.protocol.Messages;
import io.boxlite.agent.protocol.StreamId;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A command running in the guest, on its own agent channel: stdin as an {@link OutputStream},
 * stdout and stderr as {@link InputStream}s, its exit as a future.
 *
 * <p>As with {@link Process}, <b>drain stdout and stderr</b> (or pass an {@link OutputListener}
 * to {@link AgentClient#exec(ExecRequest, OutputListener)}): each stream buffers only its window
 * (256 KiB by default); when that is full the command blocks on its next write. The two streams
 * are flow-controlled separately, so reading only one of them never stalls the other's data
 * already in flight, but the command itself may block writing the unread one.
 *
 * {@snippet :
 * try (Execution run = agent.exec(ExecRequest.builder("sh", "-c", "cat; echo done >&2").build())) {
 *     try (OutputStream in = run.stdin()) {
 *         in.write("hello\n".getBytes(UTF_8));
 *     }
 *     String out = new String(run.stdout().readAllBytes(), UTF_8);
 *     ExecResult result = run.waitFor();
 * }
 * }
 *
 * <p>Thread-safe. {@link #close()} kills the command if it is still running.
 */
public final class Execution implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Execution.class.getName());
    private static final int SIGKILL = 9;

    private final AgentChannel channel;
    private final long pid;
    private final boolean tty;
    private final InboundStream stdout;
    private final InboundStream stderr;
    private final OutboundStream stdin;
    private final boolean listened;
    private final CompletableFuture<ExecResult> exitFrame = new CompletableFuture<>();
    private final CompletableFuture<ExecResult> exit;
    private final Consumer<Execution> onClose;
    private volatile boolean closed;

    Execution(AgentChannel channel, long pid, boolean tty, OutputListener listener, Consumer<Execution> onClose) {
        this.channel = channel;
        this.pid = pid;
        this.tty = tty;
        this.onClose = onClose;
        int window = channel.hello().initialWindow();
        this.stdout = new InboundStream("stdout", window, n -> grant(StreamId.STDOUT, n));
        this.stderr = new InboundStream("stderr", window, n -> grant(StreamId.STDERR, n));
        this.stdin = new OutboundStream(channel, "stdin", window);
        this.listened = listener != null;
        if (listener == null) {
            exit = exitFrame;
        } else {
            CompletableFuture<Void> out = drain(stdout, listener::onStdout, "stdout");
            CompletableFuture<Void> err = drain(stderr, listener::onStderr, "stderr");
            // The result waits for the listeners, so all output has been delivered by then.
            exit = CompletableFuture.allOf(exitFrame, out, err).thenCompose(v -> exitFrame);
        }
        Thread.ofVirtual().name("boxlite-exec-" + pid).start(this::pump);
    }

    /** The command's process id in the guest. */
    public long pid() {
        return pid;
    }

    /** Whether it runs on a pseudo-terminal (then stderr is merged into stdout). */
    public boolean tty() {
        return tty;
    }

    /** The command's stdin; {@code close()} sends end-of-file. Writes block while the command is not reading. */
    public OutputStream stdin() {
        return stdin;
    }

    /** The command's stdout (everything, with a TTY). */
    public InputStream stdout() {
        if (listened) {
            throw new InvalidStateException("stdout goes to the OutputListener of this execution");
        }
        return stdout;
    }

    /** The command's stderr; empty with a TTY. */
    public InputStream stderr() {
        if (listened) {
            throw new InvalidStateException("stderr goes to the OutputListener of this execution");
        }
        return stderr;
    }

    /**
     * Waits for the command to exit.
     *
     * @throws BoxliteException if the agent channel failed before the exit was known
     */
    public ExecResult waitFor() throws InterruptedException {
        try {
            return exit.get();
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    /** Waits at most {@code timeout}; empty if the command is still running. */
    public Optional<ExecResult> waitFor(Duration timeout) throws InterruptedException {
        try {
            return Optional.of(exit.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            throw unwrap(e);
        }
    }

    /** Completes with the result, or exceptionally if the channel failed. */
    public CompletableFuture<ExecResult> onExit() {
        return exit.copy();
    }

    /** Whether the exit is known. */
    public boolean exited() {
        return exitFrame.isDone();
    }

    /** Sends SIGKILL to the command's process group. */
    public void kill() {
        signal(SIGKILL);
    }

    /** Sends {@code signo} (1..64) to the command's process group; nothing once it has exited. */
    public void signal(int signo) {
        if (signo < 1 || signo > 64) {
            throw new InvalidArgumentException("Signal " + signo + " is outside 1..64");
        }
        if (exitFrame.isDone()) {
            return;
        }
        send(FrameType.SIGNAL, StreamId.NONE, Messages.signal(signo, Messages.SIGNAL_GROUP), "send signal " + signo);
    }

    /** Resizes the command's terminal; the guest kernel delivers SIGWINCH. */
    public void resizeTty(int rows, int cols) {
        if (!tty) {
            throw new InvalidStateException("This execution has no TTY to resize (request one with tty(rows, cols))");
        }
        TtySize size = new TtySize(rows, cols);
        if (!exitFrame.isDone()) {
            send(FrameType.RESIZE, StreamId.NONE, Messages.resize(size.rows(), size.cols()), "resize the TTY");
        }
    }

    /** Kills the command if it still runs and releases the channel. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!exitFrame.isDone()) {
            try {
                kill();
            } catch (BoxliteException e) {
                LOG.log(System.Logger.Level.DEBUG, "kill on close of exec {0}: {1}", pid, e.getMessage());
            }
        }
        channel.close(); // the agent kills the process group when its channel closes
        stdout.close();
        stderr.close();
        stdin.end("the execution is closed");
        onClose.accept(this);
    }

    private void send(FrameType type, int stream, byte[] payload, String what) {
        try {
            channel.send(type, stream, payload);
        } catch (IOException e) {
            if (exitFrame.isDone()) {
                return;
            }
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT,
                    "Cannot " + what + " for exec " + pid + ": the agent channel failed: " + e.getMessage(), e);
        }
    }

    private void grant(int stream, int bytes) {
        try {
            channel.send(FrameType.WINDOW, stream, Messages.u32(bytes));
        } catch (IOException e) {
            // The pump sees the broken channel and reports it; after the exit nobody needs credit.
            LOG.log(System.Logger.Level.DEBUG, "window grant for exec {0}: {1}", pid, e.getMessage());
        }
    }

    private void pump() {
        try {
            while (true) {
                Frame f = channel.read();
                if (f == null) {
                    throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "The guest agent closed the channel of exec "
                            + pid + " before the command exited");
                }
                switch (f.type()) {
                    case DATA -> output(f).append(f.payload());
                    case EOF -> {
                        Messages.eof(f);
                        output(f).finish();
                    }
                    case WINDOW -> {
                        if (f.stream() != StreamId.STDIN) {
                            throw new AgentProtocolException("The guest agent sent a WINDOW for " + f.describe());
                        }
                        stdin.grant(Messages.window(f));
                    }
                    case EXIT -> {
                        Messages.Exit e = Messages.exit(f);
                        stdout.finish();
                        stderr.finish();
                        stdin.end("the command has exited");
                        exitFrame.complete(new ExecResult(e.signaled() ? 128 + e.value() : e.value(),
                                e.signaled() ? e.value() : 0, e.timedOut(), e.coreDumped(),
                                Duration.ofSeconds(e.durationMicros() / 1_000_000,
                                        e.durationMicros() % 1_000_000 * 1000)));
                        return;
                    }
                    case ERROR -> throw new GuestAgentException("Exec " + pid + " failed in the guest agent",
                            Messages.error(f));
                    default -> throw new AgentProtocolException("Unexpected " + f.describe() + " on an exec channel");
                }
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            channel.close();
        }
    }

    private InboundStream output(Frame f) {
        return switch (f.stream()) {
            case StreamId.STDOUT -> stdout;
            case StreamId.STDERR -> stderr;
            default -> throw new AgentProtocolException("The guest agent sent " + f.describe() + " on an exec channel");
        };
    }

    private void fail(Throwable t) {
        BoxliteException failure = t instanceof BoxliteException b ? b
                : new BoxliteException(ErrorCode.RPC_TRANSPORT, closed
                        ? "Exec " + pid + " was closed before it exited"
                        : "The agent channel of exec " + pid + " failed: " + t.getMessage(), t);
        if (!closed) {
            LOG.log(System.Logger.Level.WARNING, failure.getMessage());
        }
        stdout.fail(failure);
        stderr.fail(failure);
        stdin.end(failure.getMessage());
        exitFrame.completeExceptionally(failure);
    }

    private CompletableFuture<Void> drain(InboundStream in, Consumer<byte[]> sink, String name) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofVirtual().name("boxlite-exec-" + name).start(() -> {
            byte[] buf = new byte[Limits.DATA_CHUNK];
            try {
                int n;
                while ((n = in.read(buf, 0, buf.length)) > 0) {
                    try {
                        sink.accept(Arrays.copyOf(buf, n));
                    } catch (RuntimeException e) {
                        LOG.log(System.Logger.Level.WARNING, "The " + name + " listener of exec " + pid + " threw", e);
                    }
                }
                done.complete(null);
            } catch (IOException e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    private static RuntimeException unwrap(ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof BoxliteException b) {
            return b;
        }
        if (cause instanceof CancellationException c) {
            return c;
        }
        return new BoxliteException(ErrorCode.RPC_TRANSPORT, "The exec failed: " + cause.getMessage(), cause);
    }
}
