package io.boxlite.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Exec scenarios shared by the tests of the agent as a host process and of the agent in a real
 * guest: the same specification, whatever runs the agent. {@code guard} only turns a hang into
 * a failure.
 */
public final class ExecChecks {
    private ExecChecks() {
    }

    /** What a finished command printed and how it ended. */
    public record Output(String stdout, String stderr, ExecResult result) {
    }

    /** Runs {@code request} with stdin closed and collects both streams. */
    public static Output run(AgentClient client, ExecRequest request, Duration guard) throws Exception {
        try (Execution e = client.exec(request)) {
            e.stdin().close();
            CompletableFuture<byte[]> err = readAsync(e.stderr());
            String out = new String(e.stdout().readAllBytes(), UTF_8);
            ExecResult result = e.waitFor(guard).orElseThrow(() -> new AssertionError("no exit within " + guard));
            return new Output(out, new String(err.get(guard.toSeconds(), TimeUnit.SECONDS), UTF_8), result);
        }
    }

    public static CompletableFuture<byte[]> readAsync(InputStream in) {
        CompletableFuture<byte[]> f = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                f.complete(in.readAllBytes());
            } catch (IOException ex) {
                f.completeExceptionally(ex);
            }
        });
        return f;
    }

    /** Reads {@code in} to its end, adding what it read to {@code count} as it goes. */
    public static CompletableFuture<Void> drainCounting(InputStream in, AtomicLong count) {
        return CompletableFuture.runAsync(() -> {
            byte[] buf = new byte[64 * 1024];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    count.addAndGet(n);
                }
            } catch (IOException ex) {
                throw new RuntimeException(ex);
            }
        }, Executors.newVirtualThreadPerTaskExecutor());
    }

    /** {@code tty} succeeds on a 30×100 PTY; {@code stty size} shows it, then the size after a resize. */
    public static void ttyHasTheRequestedSizeAndFollowsResize(AgentClient client, Duration guard) throws Exception {
        Output tty = run(client, ExecRequest.builder("tty").tty(30, 100).build(), guard);
        assertEquals(0, tty.result().exitCode(), "tty succeeds on a PTY: " + tty.stdout());
        assertTrue(tty.stdout().startsWith("/dev/pts/"), tty.stdout());

        try (Execution e = client.exec(ExecRequest.builder("sh", "-c", "stty size; read x; stty size")
                .tty(30, 100).build())) {
            assertTrue(e.tty());
            StringBuilder seen = new StringBuilder();
            byte[] buf = new byte[256];
            while (!seen.toString().contains("30 100")) {
                int n = e.stdout().read(buf);
                assertTrue(n > 0, "output ended before the first stty size: " + seen);
                seen.append(new String(buf, 0, n, UTF_8));
            }
            e.resizeTty(40, 120);
            e.stdin().write("go\n".getBytes(UTF_8));
            e.stdin().flush();
            seen.append(new String(e.stdout().readAllBytes(), UTF_8));
            assertTrue(seen.toString().contains("40 120"), "after resizeTty: " + seen);
            assertEquals(0, e.waitFor(guard).orElseThrow().exitCode());
            assertEquals(-1, e.stderr().read(), "a TTY merges stderr into stdout");
        }
    }

    /** The host keeps writing 64 MiB to a command that never reads; the writer is released when it exits. */
    public static void neverReadStdinDoesNotDeadlockTheWriter(AgentClient client, Duration guard) throws Exception {
        try (Execution e = client.exec(ExecRequest.builder("sh", "-c", "echo hi; sleep 1").build())) {
            CompletableFuture<Throwable> writer = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try (OutputStream in = e.stdin()) {
                    byte[] chunk = new byte[1 << 20];
                    for (int i = 0; i < 64; i++) {
                        in.write(chunk);
                    }
                    writer.complete(null);
                } catch (IOException ex) {
                    writer.complete(ex);
                }
            });
            assertEquals("hi\n", new String(e.stdout().readAllBytes(), UTF_8));
            assertEquals(0, e.waitFor(guard).orElseThrow().exitCode());
            Throwable t = writer.get(guard.toSeconds(), TimeUnit.SECONDS);
            assertTrue(t instanceof IOException, "the blocked writer is released with an IOException: " + t);
        }
    }

    /**
     * A command writes {@code flood} bytes to stderr that nobody reads for a while: its stdout
     * still arrives, another exec runs normally meanwhile, and once read nothing is lost.
     */
    public static void stderrFloodStallsNeitherStdoutNorAnotherExec(AgentClient client, long flood, Duration guard)
            throws Exception {
        try (Execution flooder = client.exec(ExecRequest.builder("sh", "-c",
                "echo started; head -c " + flood + " /dev/zero >&2; echo finished").build())) {
            flooder.stdin().close();
            byte[] started = new byte["started\n".length()];
            assertEquals(started.length, flooder.stdout().readNBytes(started, 0, started.length));
            assertEquals("started\n", new String(started, UTF_8));
            Output other = run(client, ExecRequest.builder("sh", "-c", "echo unaffected; echo also >&2").build(), guard);
            assertEquals("unaffected\n", other.stdout());
            assertEquals("also\n", other.stderr());
            assertTrue(flooder.waitFor(Duration.ofMillis(500)).isEmpty(), "the flooder is held back, not dropped");

            AtomicLong drained = new AtomicLong();
            CompletableFuture<Void> err = drainCounting(flooder.stderr(), drained);
            assertEquals("finished\n", new String(flooder.stdout().readAllBytes(), UTF_8));
            err.get(guard.toSeconds(), TimeUnit.SECONDS);
            assertEquals(flood, drained.get());
            assertEquals(0, flooder.waitFor(guard).orElseThrow().exitCode());
        }
    }

    /**
     * A command floods stdout and stderr at once, each with {@code copies} copies of a 1 MiB
     * block of numbered lines; both arrive byte for byte. (The agent once read both pipes into
     * a queue with room for one: the second read ran past its end.)
     */
    public static void bothStreamsFloodedAtOnceArriveIntact(AgentClient client, int copies, Duration guard)
            throws Exception {
        int lines = 150_000;
        String script = "f=/tmp/flood.$$; seq 1 " + lines + " > $f"
                + " && { i=0; while [ $i -lt " + copies + " ]; do cat $f; i=$((i+1)); done >&2 & }"
                + " && i=0; while [ $i -lt " + copies + " ]; do cat $f; i=$((i+1)); done; wait; rm $f";
        try (Execution e = client.exec(ExecRequest.builder("sh", "-c", script).build())) {
            e.stdin().close();
            CompletableFuture<byte[]> err = readAsync(e.stderr());
            CompletableFuture<byte[]> out = readAsync(e.stdout());
            ExecResult r = e.waitFor(guard).orElseThrow(() -> new AssertionError("no exit within " + guard));
            assertEquals(0, r.exitCode(), r.toString());
            StringBuilder block = new StringBuilder();
            for (int i = 1; i <= lines; i++) {
                block.append(i).append('\n');
            }
            byte[] expected = block.toString().repeat(copies).getBytes(UTF_8);
            assertArrayEquals(expected, out.get(guard.toSeconds(), TimeUnit.SECONDS), "stdout");
            assertArrayEquals(expected, err.get(guard.toSeconds(), TimeUnit.SECONDS), "stderr");
        }
    }
}
