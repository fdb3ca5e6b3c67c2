package io.boxlite.agent;

import static io.boxlite.agent.ExecChecks.readAsync;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.agent.ExecChecks.Output;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exec through the real agent binary, run as a normal process on a Unix socket. */
class AgentExecTest {
    private static final Duration GUARD = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    static LocalAgent agent;
    static AgentClient client;

    @BeforeAll
    static void startAgent() throws Exception {
        agent = LocalAgent.start(dir);
        client = agent.client();
    }

    @AfterAll
    static void stopAgent() throws Exception {
        if (client != null) {
            client.close();
        }
        if (agent != null) {
            agent.close();
        }
    }

    static Output run(ExecRequest request) throws Exception {
        return ExecChecks.run(client, request, GUARD);
    }

    static Output sh(String script) throws Exception {
        return run(ExecRequest.builder("sh", "-c", script).build());
    }

    @Test
    void greetsWithProtocolVersionAndCapabilities() {
        assertEquals(1, client.info().major());
        assertTrue(client.info().agent().startsWith("boxlite-agent "));
        assertTrue(client.info().has(io.boxlite.agent.protocol.Messages.Hello.CAP_PTY));
        assertTrue(client.ping().compareTo(Duration.ZERO) > 0);
    }

    @Test
    void echoPrintsItsArguments() throws Exception {
        Output o = run(ExecRequest.builder("echo", "hello", "box").build());
        assertEquals("hello box\n", o.stdout());
        assertEquals("", o.stderr());
        assertTrue(o.result().success());
        assertFalse(o.result().signaled());
    }

    @Test
    void exitCodesArriveUnchanged() throws Exception {
        for (int code : new int[] {0, 7, 255}) {
            ExecResult r = sh("exit " + code).result();
            assertEquals(code, r.exitCode());
            assertEquals(0, r.signal());
            assertFalse(r.timedOut());
        }
    }

    @Test
    void deathBySignalReportsTheSignalAnd128PlusIt() throws Exception {
        ExecResult r = sh("kill -TERM $$").result();
        assertEquals(15, r.signal());
        assertEquals(143, r.exitCode());
        assertTrue(r.signaled());
        assertFalse(r.success());
    }

    @Test
    void stderrStaysApartFromStdout() throws Exception {
        Output o = sh("echo out; echo err >&2; echo out2");
        assertEquals("out\nout2\n", o.stdout());
        assertEquals("err\n", o.stderr());
    }

    @Test
    void stdinFlowsThroughCatToStdout() throws Exception {
        byte[] input = new byte[3 * 1024 * 1024 + 17];
        new java.util.Random(7).nextBytes(input);
        try (Execution e = client.exec(ExecRequest.builder("cat").build())) {
            CompletableFuture<byte[]> out = readAsync(e.stdout());
            try (OutputStream in = e.stdin()) {
                in.write(input);
            }
            assertArrayEquals(input, out.get());
            assertEquals(0, e.waitFor().exitCode());
        }
    }

    @Test
    void envAndWorkingDirectoryApply() throws Exception {
        Output o = run(ExecRequest.builder("sh", "-c", "echo $FOO; pwd; echo $PATH").env("FOO", "bar baz")
                .workingDir("/tmp").build());
        String[] lines = o.stdout().split("\n");
        assertEquals("bar baz", lines[0]);
        assertEquals("/tmp", lines[1]);
        assertTrue(lines[2].contains("/usr/bin"), "a default PATH is supplied: " + lines[2]);
    }

    @Test
    void streams256MiBOutWithEqualChecksums() throws Exception {
        // tee sends the same bytes to stdout and to sha256sum, whose digest comes back on stderr.
        String script = "exec 3>&1; head -c 268435456 /dev/urandom | tee /dev/fd/3 | sha256sum >&2";
        try (Execution e = client.exec(ExecRequest.builder("sh", "-c", script).build())) {
            e.stdin().close();
            CompletableFuture<byte[]> err = readAsync(e.stderr());
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = e.stdout().read(buf)) > 0) {
                sha.update(buf, 0, n);
                total += n;
            }
            assertEquals(268_435_456L, total);
            assertEquals(0, e.waitFor().exitCode());
            String guestDigest = new String(err.get(), UTF_8).split("\\s+")[0];
            assertEquals(guestDigest, HexFormat.of().formatHex(sha.digest()));
        }
    }

    @Test
    void thirtyTwoExecsRunConcurrently(@TempDir Path rendezvous) throws Exception {
        // Each command waits until all 32 have started: this passes only if they run at once.
        int count = 32;
        List<Future<Output>> futures = new ArrayList<>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < count; i++) {
                String script = "touch " + rendezvous + "/" + i + "; while [ $(ls " + rendezvous
                        + " | wc -l) -lt " + count + " ]; do sleep 0.05; done; echo done-" + i;
                futures.add(pool.submit(() -> run(ExecRequest.builder("sh", "-c", script)
                        .timeout(Duration.ofSeconds(60)).build())));
            }
            for (int i = 0; i < count; i++) {
                Output o = futures.get(i).get();
                assertFalse(o.result().timedOut(), "exec " + i + " timed out waiting for the others");
                assertEquals("done-" + i + "\n", o.stdout());
            }
        }
    }

    @Test
    void timeoutKillsTheProcessGroup() throws Exception {
        Output o = run(ExecRequest.builder("sh", "-c", "sleep 100 & sleep 100; echo never")
                .timeout(Duration.ofMillis(300)).build());
        assertTrue(o.result().timedOut());
        assertEquals(9, o.result().signal());
        assertEquals("", o.stdout());
    }

    @Test
    void signalAndKillReachTheCommand() throws Exception {
        try (Execution e = client.exec(ExecRequest.builder("sleep", "100").build())) {
            e.signal(15);
            assertEquals(15, e.waitFor(GUARD).orElseThrow().signal());
        }
        try (Execution e = client.exec(ExecRequest.builder("sleep", "100").build())) {
            e.kill();
            assertEquals(137, e.waitFor(GUARD).orElseThrow().exitCode());
            e.kill(); // after the exit: nothing to do
        }
        try (Execution e = client.exec(ExecRequest.builder("true").build())) {
            assertThrows(InvalidArgumentException.class, () -> e.signal(0));
            assertThrows(InvalidStateException.class, () -> e.resizeTty(10, 10));
            e.waitFor();
        }
    }

    @Test
    void closingAnExecutionKillsItsCommand() throws Exception {
        long pid;
        try (Execution e = client.exec(ExecRequest.builder("sleep", "100").build())) {
            pid = e.pid();
            assertTrue(Files.exists(Path.of("/proc/" + pid)));
        }
        long deadline = System.nanoTime() + GUARD.toNanos();
        while (ProcessHandle.of(pid).isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertFalse(ProcessHandle.of(pid).isPresent(), "sleep " + pid + " survived its execution's close");
    }

    @Test
    void ttyIsATerminalWithTheRequestedSizeAndResizes() throws Exception {
        ExecChecks.ttyHasTheRequestedSizeAndFollowsResize(client, GUARD);
    }

    @Test
    void aCommandThatNeverReadsStdinDoesNotDeadlockItsWriter() throws Exception {
        ExecChecks.neverReadStdinDoesNotDeadlockTheWriter(client, GUARD);
    }

    @Test
    void aCommandFloodingStderrStallsNeitherItsStdoutNorAnotherExec() throws Exception {
        ExecChecks.stderrFloodStallsNeitherStdoutNorAnotherExec(client, 100_000_000L, GUARD);
    }

    @Test
    void aCommandFloodingStdoutAndStderrAtOnceDeliversBothIntact() throws Exception {
        ExecChecks.bothStreamsFloodedAtOnceArriveIntact(client, 32, GUARD);
    }

    @Test
    void listenersReceiveAllOutputBeforeTheResult() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        OutputListener listener = new OutputListener() {
            @Override
            public void onStdout(byte[] chunk) {
                synchronized (out) {
                    out.writeBytes(chunk);
                }
            }

            @Override
            public void onStderr(byte[] chunk) {
                synchronized (err) {
                    err.writeBytes(chunk);
                }
            }
        };
        try (Execution e = client.exec(ExecRequest.builder("sh", "-c",
                "seq 1 20000; echo oops >&2").build(), listener)) {
            e.stdin().close();
            assertThrows(InvalidStateException.class, e::stdout);
            ExecResult r = e.onExit().get();
            assertEquals(0, r.exitCode());
            synchronized (out) {
                String text = out.toString(UTF_8);
                assertTrue(text.startsWith("1\n2\n") && text.endsWith("\n20000\n"), "all lines delivered");
            }
            synchronized (err) {
                assertEquals("oops\n", err.toString(UTF_8));
            }
        }
    }

    @Test
    void aMissingCommandDirectoryOrUserIsNotFound() {
        GuestAgentException cmd = assertThrows(GuestAgentException.class,
                () -> client.exec(ExecRequest.builder("no-such-command-xyz").build()));
        assertTrue(cmd.notFound());
        assertTrue(cmd.getMessage().contains("no-such-command-xyz"), cmd.getMessage());
        GuestAgentException cwd = assertThrows(GuestAgentException.class,
                () -> client.exec(ExecRequest.builder("true").workingDir("/no/such/dir").build()));
        assertTrue(cwd.notFound());
        GuestAgentException user = assertThrows(GuestAgentException.class,
                () -> client.exec(ExecRequest.builder("true").user("no-such-user-xyz").build()));
        assertTrue(user.getMessage().contains("/etc/passwd"), user.getMessage());
    }

    @Test
    void runsAsAnotherUserResolvedFromPasswd() throws Exception {
        assumeTrue(new com.sun.security.auth.module.UnixSystem().getUid() == 0,
                "SKIPPED: switching users needs the agent to run as root, and these tests do not");
        assertEquals("65534\n", run(ExecRequest.builder("id", "-u").user("nobody").build()).stdout());
        assertEquals("65534 123\n", run(ExecRequest.builder("sh", "-c", "echo $(id -u) $(id -g)")
                .user("65534:123").build()).stdout());
        Optional<String> home = Optional.of(run(ExecRequest.builder("sh", "-c", "echo $HOME")
                .user("root").build()).stdout());
        assertEquals(Optional.of("/root\n"), home);
    }

    @Test
    void requestsAreValidatedBeforeTheyAreSent() {
        assertThrows(InvalidArgumentException.class, () -> ExecRequest.builder().build());
        assertThrows(InvalidArgumentException.class, () -> ExecRequest.builder("a\0b").build());
        assertThrows(InvalidArgumentException.class, () -> ExecRequest.builder("x").workingDir("rel").build());
        assertThrows(InvalidArgumentException.class, () -> ExecRequest.builder("x").env("A=B", "c").build());
        assertThrows(InvalidArgumentException.class, () -> ExecRequest.builder("x", "y".repeat(300_000)).build());
        assertThrows(InvalidArgumentException.class, () -> ExecRequest.builder("x").tty(0, 80).build());
    }

    @Test
    void statsDescribeTheGuest() {
        GuestStats s = client.stats();
        assertTrue(s.uptime().toMillis() > 0);
        assertTrue(s.memTotalBytes() > 0 && s.memAvailableBytes() <= s.memTotalBytes());
        assertTrue(s.cpus() >= 1);
        assertTrue(s.processes() > 0);
        assertTrue(s.load1() >= 0);
    }
}
