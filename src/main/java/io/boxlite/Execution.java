package io.boxlite;

import io.boxlite.runtime.BoxRuntime;

import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A command running in a box: BoxLite's {@code Execution}. Its stdin is an
 * {@link OutputStream}, its stdout and stderr are {@link InputStream}s, its end is an
 * {@link ExecResult}.
 *
 * <p>As with {@link Process}, <b>drain stdout and stderr</b> (or give the command
 * {@link BoxCommand.Builder#onStdout listeners}): each buffers a bounded window, and the command
 * blocks writing once it is full.
 *
 * {@snippet :
 * try (Execution run = box.exec(BoxCommand.of("sh", "-c", "cat; echo done >&2"))) {
 *     try (OutputStream in = run.stdin()) {
 *         in.write("hello\n".getBytes(UTF_8));
 *     }
 *     String out = new String(run.stdout().readAllBytes(), UTF_8);
 *     ExecResult result = run.waitFor();
 * }
 * }
 *
 * <p>Thread-safe. {@link #close()} kills the command if it still runs.
 */
public final class Execution implements AutoCloseable {
    private final io.boxlite.agent.Execution inner;
    private final BoxRuntime.Counters counters;
    private final OutputStream stdin;
    private final InputStream stdout;
    private final InputStream stderr;
    private final CompletableFuture<ExecResult> exit;

    Execution(io.boxlite.agent.Execution inner, BoxRuntime.Counters counters, Runnable beforeExit) {
        this.inner = inner;
        this.counters = counters;
        this.stdin = new FilterOutputStream(inner.stdin()) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                counters.bytesSent.addAndGet(len);
            }

            @Override
            public void write(int b) throws IOException {
                out.write(b);
                counters.bytesSent.incrementAndGet();
            }
        };
        this.stdout = counting(inner, true);
        this.stderr = counting(inner, false);
        this.exit = inner.onExit().handle((r, t) -> {
            beforeExit.run();
            if (t != null) {
                counters.execErrors.incrementAndGet();
                Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null
                        ? t.getCause() : t;
                throw cause instanceof BoxliteException b ? b
                        : new BoxliteException(ErrorCode.RPC_TRANSPORT, "The command's channel failed: "
                        + cause.getMessage(), cause);
            }
            return toResult(r, "", "");
        });
    }

    private InputStream counting(io.boxlite.agent.Execution e, boolean out) {
        InputStream source;
        try {
            source = out ? e.stdout() : e.stderr();
        } catch (BoxliteException listened) {
            return InputStream.nullInputStream();
        }
        return new FilterInputStream(source) {
            @Override
            public int read() throws IOException {
                int b = in.read();
                if (b >= 0) {
                    counters.bytesReceived.incrementAndGet();
                }
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = in.read(b, off, len);
                if (n > 0) {
                    counters.bytesReceived.addAndGet(n);
                }
                return n;
            }
        };
    }

    static ExecResult toResult(io.boxlite.agent.ExecResult r, String out, String err) {
        return new ExecResult(r.exitCode(), r.signal(), r.timedOut(), out, err, r.duration());
    }

    /** Line-splitting adapter from byte chunks to a listener of lines. */
    static final class Lines {
        private final Consumer<String> sink;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        Lines(Consumer<String> sink) {
            this.sink = sink;
        }

        synchronized void accept(byte[] data) {
            for (byte b : data) {
                if (b == '\n') {
                    sink.accept(pending.toString(StandardCharsets.UTF_8));
                    pending.reset();
                } else {
                    pending.write(b);
                }
            }
        }

        synchronized void finish() {
            if (pending.size() > 0) {
                sink.accept(pending.toString(StandardCharsets.UTF_8));
                pending.reset();
            }
        }
    }

    /** The command's process id in the box. */
    public long pid() {
        return inner.pid();
    }

    /** Whether it runs on a pseudo-terminal (stderr then goes to stdout). */
    public boolean tty() {
        return inner.tty();
    }

    /** Its stdin; {@code close()} sends end-of-file. */
    public OutputStream stdin() {
        return stdin;
    }

    /** Its stdout (empty when the command has an {@code onStdout} listener). */
    public InputStream stdout() {
        return stdout;
    }

    /** Its stderr (empty with a TTY, or when it has an {@code onStderr} listener). */
    public InputStream stderr() {
        return stderr;
    }

    /** Waits for it to end. */
    public ExecResult waitFor() throws InterruptedException {
        try {
            return exit.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw unwrap(e);
        }
    }

    /** Waits at most {@code timeout}; empty if it still runs. */
    public Optional<ExecResult> waitFor(Duration timeout) throws InterruptedException {
        try {
            return Optional.of(exit.get(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS));
        } catch (java.util.concurrent.TimeoutException e) {
            return Optional.empty();
        } catch (java.util.concurrent.ExecutionException e) {
            throw unwrap(e);
        }
    }

    /** Completes with its result (after listeners got all output), or exceptionally if its channel failed. */
    public CompletableFuture<ExecResult> onExit() {
        return exit.copy();
    }

    /** Whether it has ended. */
    public boolean exited() {
        return inner.exited();
    }

    /** SIGKILL to its process group. */
    public void kill() {
        inner.kill();
    }

    /** Sends {@code signo} (1..64) to its process group. */
    public void signal(int signo) {
        inner.signal(signo);
    }

    /** Resizes its terminal; the box delivers SIGWINCH. */
    public void resizeTty(int rows, int cols) {
        inner.resizeTty(rows, cols);
    }

    /** Kills it if it still runs and releases its channel. Idempotent. */
    @Override
    public void close() {
        inner.close();
    }

    private static RuntimeException unwrap(java.util.concurrent.ExecutionException e) {
        Throwable c = e.getCause();
        return c instanceof RuntimeException r ? r
                : new BoxliteException(ErrorCode.RPC_TRANSPORT, "The command failed: " + c.getMessage(), c);
    }
}
