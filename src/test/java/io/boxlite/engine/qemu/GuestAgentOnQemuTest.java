package io.boxlite.engine.qemu;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.boxlite.agent.AgentClient;
import io.boxlite.agent.CopyOption;
import io.boxlite.agent.CopyResult;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.ExecChecks;
import io.boxlite.agent.ExecChecks.Output;
import io.boxlite.agent.ExecResult;
import io.boxlite.agent.Execution;
import io.boxlite.agent.ShutdownAction;
import io.boxlite.agent.TreeFixture;
import io.boxlite.disk.AllocatedSpace;
import io.boxlite.disk.RawDiskImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest agent's exec, streaming and copy features on a real Linux guest under the QEMU
 * engine: the Debian kernel, our initramfs with the agent as init, a busybox ext4 root served
 * by our virtio-blk and the agent reached through our virtio-vsock. One box serves the class.
 *
 * <p>The per-test timeout only turns a deadlock into a failure; it is no performance target.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class GuestAgentOnQemuTest {
    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final Duration GUARD = Duration.ofSeconds(120);
    private static final long STREAM_BYTES = 256L << 20;
    private static final int BLOCK_LINES = 150_000; // seq 1 150000: 938,896 bytes

    @TempDir
    static Path dir;
    private Path disk;
    private QemuGuest guest;
    private AgentClient agent;
    private final List<String> failures = new CopyOnWriteArrayList<>();

    @BeforeAll
    void boot() throws Exception {
        Path initramfs = QemuGuestTest.prepareInitramfs(dir.resolve("home"));
        disk = QemuGuestTest.busyboxDisk(dir, "128M");
        QemuGuest.Spec spec = new QemuGuest.Spec(QemuGuestTest.QEMU, false, 2, 512,
                QemuGuestTest.kernel().vmlinuz(), initramfs, RawDiskImage.open(disk, false), dir.resolve("box"),
                List.of());
        guest = QemuGuest.start(spec, failures::add);
        agent = guest.awaitAgent(BOOT);
    }

    @AfterAll
    void powerOff() throws Exception {
        try {
            if (agent != null) {
                agent.shutdown(ShutdownAction.POWER_OFF, Duration.ofSeconds(10));
                assertEquals(Optional.of(0), guest.awaitExit(Duration.ofSeconds(60)), "the guest powered off");
                agent.close();
            }
        } finally {
            if (guest != null) {
                guest.close();
            }
        }
        assertTrue(failures.stream().allMatch(f -> f.contains("closed the connection")),
                "no device failed: " + failures);
    }

    private Output run(ExecRequest request) throws Exception {
        return ExecChecks.run(agent, request, GUARD);
    }

    private Output sh(String script) throws Exception {
        return run(ExecRequest.builder("sh", "-c", script).build());
    }

    @Test
    void echoPrintsItsArgumentsOnStdout() throws Exception {
        Output o = run(ExecRequest.builder("echo", "hello", "from the guest").build());
        assertEquals("hello from the guest\n", o.stdout());
        assertEquals("", o.stderr());
        assertTrue(o.result().success());
    }

    @Test
    void exitCodes0And7And255ArriveUnchangedAndAreNotSignals() throws Exception {
        for (int code : new int[] {0, 7, 255}) {
            ExecResult r = sh("exit " + code).result();
            assertEquals(code, r.exitCode(), "exit " + code);
            assertEquals(0, r.signal(), "exit " + code + " is no signal");
            assertFalse(r.timedOut());
        }
        // 143 as a plain exit status must not be mistaken for SIGTERM
        ExecResult plain = sh("exit 143").result();
        assertEquals(143, plain.exitCode());
        assertFalse(plain.signaled());
    }

    @Test
    void deathBySignalIsReportedAsTheSignalNotAsAnExitCode() throws Exception {
        ExecResult term = sh("kill -TERM $$").result();
        assertTrue(term.signaled());
        assertEquals(15, term.signal());
        assertEquals(128 + 15, term.exitCode());
        assertFalse(term.timedOut());

        ExecResult killed = sh("kill -KILL $$").result();
        assertEquals(9, killed.signal());
        assertFalse(killed.success());
    }

    @Test
    void stderrStaysApartFromStdout() throws Exception {
        Output o = sh("echo out1; echo err1 >&2; echo out2; echo err2 >&2");
        assertEquals("out1\nout2\n", o.stdout());
        assertEquals("err1\nerr2\n", o.stderr());
        assertTrue(o.result().success());
    }

    @Test
    void stdinFlowsThroughCatToStdoutUnchanged() throws Exception {
        byte[] input = new byte[4 * 1024 * 1024 + 13];
        new Random(4).nextBytes(input);
        try (Execution e = agent.exec(ExecRequest.builder("cat").build())) {
            CompletableFuture<byte[]> out = ExecChecks.readAsync(e.stdout());
            try (OutputStream in = e.stdin()) {
                in.write(input);
            }
            assertArrayEquals(input, out.get(GUARD.toSeconds(), TimeUnit.SECONDS));
            assertEquals(0, e.waitFor(GUARD).orElseThrow().exitCode());
        }
    }

    /** {@code seq 1 lines}, as the guest's seq prints it. */
    private static byte[] seqOutput(int lines) {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= lines; i++) {
            b.append(i).append('\n');
        }
        return b.toString().getBytes(UTF_8);
    }

    @Test
    void twoHundredFiftySixMiBStreamOutWithNoByteLostOrReordered() throws Exception {
        // busybox seq manages ~0.5 MiB/s under TCG and sha256sum ~3 MiB/s, so the guest writes a
        // 1 MiB block of numbered lines once and streams 256 copies, each behind a numbered
        // header: every byte of the stream has one expected value and place, which the host checks.
        byte[] block = seqOutput(BLOCK_LINES);
        int copies = Math.toIntExact(STREAM_BYTES / block.length) + 1;
        String script = "seq 1 " + BLOCK_LINES + " > /tmp/block && sha256sum /tmp/block >&2 && i=1"
                + " && while [ $i -le " + copies + " ]; do echo \"block $i\"; cat /tmp/block; i=$((i+1)); done";
        try (Execution e = agent.exec(ExecRequest.builder("sh", "-c", script).build())) {
            e.stdin().close();
            CompletableFuture<byte[]> err = ExecChecks.readAsync(e.stderr());
            ExpectedStream expected = new ExpectedStream(block, copies);
            byte[] buf = new byte[256 * 1024];
            int n;
            while ((n = e.stdout().read(buf)) > 0) {
                expected.check(buf, n);
            }
            assertEquals(0, e.waitFor(GUARD).orElseThrow().exitCode(), new String(err.get(), UTF_8));
            expected.assertComplete();
            assertTrue(expected.position() >= STREAM_BYTES, expected.position() + " bytes streamed");
            String guestDigest = new String(err.get(), UTF_8).split("\\s+")[0];
            assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(block)), guestDigest,
                    "the guest's block is the host's");
        }
    }

    /** "block 1\n", the block, "block 2\n", the block, …: compared byte for byte as it arrives. */
    private static final class ExpectedStream {
        private final byte[] block;
        private final int copies;
        private int copy = 1;
        private byte[] piece;
        private int inPiece;
        private boolean header = true;
        private long position;

        ExpectedStream(byte[] block, int copies) {
            this.block = block;
            this.copies = copies;
            this.piece = header(1);
        }

        private static byte[] header(int copy) {
            return ("block " + copy + "\n").getBytes(UTF_8);
        }

        void check(byte[] buf, int n) {
            int i = 0;
            while (i < n) {
                if (piece == null) {
                    fail("the stream continues past its end at byte " + position);
                }
                int len = Math.min(n - i, piece.length - inPiece);
                int bad = Arrays.mismatch(buf, i, i + len, piece, inPiece, inPiece + len);
                if (bad >= 0) {
                    fail("byte " + (position + bad) + " (copy " + copy + (header ? " header" : "") + ", offset "
                            + (inPiece + bad) + ") is " + (buf[i + bad] & 0xff) + ", expected "
                            + (piece[inPiece + bad] & 0xff));
                }
                i += len;
                inPiece += len;
                position += len;
                if (inPiece == piece.length) {
                    advance();
                }
            }
        }

        private void advance() {
            inPiece = 0;
            if (header) {
                header = false;
                piece = block;
            } else if (copy < copies) {
                header = true;
                piece = header(++copy);
            } else {
                piece = null;
            }
        }

        void assertComplete() {
            assertTrue(piece == null, "the stream ended early at byte " + position + " (copy " + copy + ")");
        }

        long position() {
            return position;
        }
    }

    @Test
    void thirtyTwoExecsRunConcurrently() throws Exception {
        // Each command waits until all 32 have started: this passes only if they run at once.
        int count = 32;
        String rendezvous = "/tmp/rendezvous";
        assertTrue(sh("mkdir -p " + rendezvous).result().success());
        List<Future<Output>> futures = new ArrayList<>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < count; i++) {
                String script = "touch " + rendezvous + "/" + i + "; while set -- " + rendezvous
                        + "/*; [ $# -lt " + count + " ]; do sleep 0.2; done; echo done-" + i;
                futures.add(pool.submit(() -> run(ExecRequest.builder("sh", "-c", script)
                        .timeout(Duration.ofSeconds(90)).build())));
            }
            for (int i = 0; i < count; i++) {
                Output o = futures.get(i).get();
                assertFalse(o.result().timedOut(), "exec " + i + " timed out waiting for the others");
                assertEquals("done-" + i + "\n", o.stdout());
                assertEquals(0, o.result().exitCode());
            }
        }
    }

    @Test
    void anExecTimeoutKillsTheCommandAndItsWholeProcessGroup() throws Exception {
        try (Execution e = agent.exec(ExecRequest.builder("sh", "-c", "sleep 1000 & echo $!; sleep 1000; echo never")
                .timeout(Duration.ofSeconds(2)).build())) {
            e.stdin().close();
            String out = new String(e.stdout().readAllBytes(), UTF_8);
            ExecResult r = e.waitFor(GUARD).orElseThrow();
            assertTrue(r.timedOut(), r.toString());
            assertEquals(9, r.signal());
            assertFalse(out.contains("never"), out);
            String background = out.strip();
            assertTrue(background.matches("\\d+"), "the background sleep's pid: " + out);
            // The background sleep was in the group: it is gone (or a zombie about to be reaped).
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            String state;
            do {
                state = sh("cat /proc/" + background + "/stat 2>/dev/null | cut -d' ' -f3").stdout().strip();
            } while (!state.isEmpty() && System.nanoTime() < deadline && sleep(200));
            assertEquals("", state, "the background sleep " + background + " survived the timeout");
        }
    }

    private static boolean sleep(long millis) throws InterruptedException {
        Thread.sleep(millis);
        return true;
    }

    @Test
    void aPtyIsATerminalOfTheRequestedSizeAndFollowsResize() throws Exception {
        ExecChecks.ttyHasTheRequestedSizeAndFollowsResize(agent, GUARD);
    }

    @Test
    void aTreeCopiedInAndOutKeepsModesSymlinksAndContent(@TempDir Path work) throws Exception {
        Path tree = TreeFixture.makeTree(work.resolve("src"));
        CopyResult in = agent.copyIn(new ByteArrayInputStream(TreeFixture.hostTar(tree.getParent(), "tree")),
                "/root/copied", CopyOption.CREATE_DIRECTORIES);
        try (var walk = Files.walk(tree)) {
            assertEquals(walk.count(), in.entries(), "one archive member per file, directory and link");
        }
        // the guest's own view: modes and links as on the host
        Output listing = sh("cd /root/copied/tree && stat -c '%a %n' plain.txt run.sh sub/deep"
                + " && readlink link && readlink sub/dangling && sha256sum sub/big.bin");
        assertTrue(listing.result().success(), listing.stderr());
        String[] lines = listing.stdout().split("\n");
        assertEquals("640 plain.txt", lines[0]);
        assertEquals("755 run.sh", lines[1]);
        assertEquals("710 sub/deep", lines[2]);
        assertEquals("plain.txt", lines[3]);
        assertEquals("/nowhere/at/all", lines[4]);
        String hostDigest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(tree.resolve("sub/big.bin"))));
        assertTrue(lines[5].startsWith(hostDigest), lines[5]);

        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        CopyResult out = agent.copyOut("/root/copied/tree", tar);
        assertEquals(in.entries(), out.entries());
        assertEquals(in.bytes(), out.bytes());
        TreeFixture.hostUntar(tar.toByteArray(), work.resolve("back"));
        TreeFixture.assertSameTree(tree, work.resolve("back/tree"));
    }

    @Test
    void aCommandThatNeverReadsStdinDoesNotDeadlockTheHostWritingIt() throws Exception {
        ExecChecks.neverReadStdinDoesNotDeadlockTheWriter(agent, GUARD);
    }

    @Test
    void aCommandFloodingStderrStallsNeitherItsStdoutNorAnotherExec() throws Exception {
        ExecChecks.stderrFloodStallsNeitherStdoutNorAnotherExec(agent, 16L << 20, GUARD);
    }

    @Test
    void aCommandFloodingStdoutAndStderrAtOnceDeliversBothIntact() throws Exception {
        ExecChecks.bothStreamsFloodedAtOnceArriveIntact(agent, 12, GUARD);
    }

    @Test
    void aCommandFloodingStdoutAtFullSpeedNeverStallsAnotherExec() throws Exception {
        try (Execution flooder = agent.exec(ExecRequest.builder("cat", "/dev/zero").build())) {
            flooder.stdin().close();
            AtomicLong drained = new AtomicLong();
            CompletableFuture<Void> reader = ExecChecks.drainCounting(flooder.stdout(), drained);
            for (int i = 0; i < 5; i++) {
                Output o = sh("echo round-" + i);
                assertEquals("round-" + i + "\n", o.stdout());
            }
            assertTrue(drained.get() > 0, "the flood was flowing meanwhile");
            assertFalse(flooder.exited(), "the flooder still runs");
            flooder.kill();
            assertEquals(9, flooder.waitFor(GUARD).orElseThrow().signal());
            reader.get(GUARD.toSeconds(), TimeUnit.SECONDS);
        }
    }

    @Test
    void fstrimInTheGuestPunchesHolesInTheHostDiskFile() throws Exception {
        Output fill = sh("dd if=/dev/urandom of=/root/fill bs=1M count=48 2>/dev/null && sync");
        assertTrue(fill.result().success(), fill.stderr());
        long before = AllocatedSpace.of(disk);
        Output trim = sh("rm /root/fill && sync && fstrim -v /");
        assertTrue(trim.result().success(), "fstrim: " + trim.stdout() + trim.stderr());
        long after = AllocatedSpace.of(disk);
        assertTrue(before - after >= 40L << 20, "the host file gave back the deleted 48 MiB: allocated "
                + before + " -> " + after + " bytes; " + trim.stdout());
    }
}
