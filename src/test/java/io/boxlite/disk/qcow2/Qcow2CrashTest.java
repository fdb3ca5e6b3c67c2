package io.boxlite.disk.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Kills a writing JVM with SIGKILL at random moments, several times on the same image: QEMU must
 * find no corruption (leaks allowed), and every write covered by a completed flush must read back.
 */
class Qcow2CrashTest {
    private static final int ROUNDS = Integer.parseInt(System.getenv().getOrDefault("QCOW2_CRASH_ROUNDS", "5"));
    private static final int SECTOR = 512;

    @TempDir
    Path dir;

    private static byte[] BACKING;

    @BeforeAll
    static void needsQemu() {
        QemuTools.assumeInstalled();
    }

    @ParameterizedTest(name = "cluster size {0}, backing file {1}")
    @CsvSource({"65536, true", "512, false", "4096, false"})
    void killedWritersLeaveConsistentImagesWithAllFlushedData(int clusterSize, boolean backing) throws Exception {
        Random rnd = new Random(77 + clusterSize);
        Path image = dir.resolve("crash.qcow2");
        byte[] state = new byte[CrashWorkload.VERIFIED_REGION];
        if (backing) {
            byte[] base = DiskModel.randomBytes(rnd, 24 << 20);
            Files.write(dir.resolve("base.raw"), base);
            BACKING = base;
            Qcow2Image.createOverlay(image, "base.raw", BackingFormat.RAW, CrashWorkload.DISK_SIZE);
            System.arraycopy(base, 0, state, 0, base.length);
        } else {
            Qcow2Image.create(image, CrashWorkload.DISK_SIZE, clusterSize);
        }
        int flushedTotal = 0;
        for (int round = 0; round < ROUNDS; round++) {
            long seed = rnd.nextLong();
            long delayMs = 300 + rnd.nextInt(1500);
            Run run = runAndKill(image, dir.resolve("markers-" + round + ".txt"), seed, clusterSize, delayMs);
            QemuTools.Check check = QemuTools.check(image);
            assertEquals(0, check.corruptions(), "round " + round + ": qemu-img check finds corruption:\n"
                    + check.output());
            List<CrashWorkload.Step> steps = CrashWorkload.steps(seed, run.lastStarted + 1, clusterSize);
            byte[] actual = readRegion(image);
            try {
                verify(state, actual, steps, run.lastFlushed, run.lastStarted, round);
            } catch (AssertionError e) {
                Path keep = Path.of("target", "qcow2-crash-failure");
                Files.createDirectories(keep);
                Files.copy(image, keep.resolve("image.qcow2"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.write(keep.resolve("before.bin"), state);
                if (backing) {
                    Files.copy(dir.resolve("base.raw"), keep.resolve("base.raw"),
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
                throw e;
            }
            byte[] qemuView = QemuTools.toRaw(image, dir);
            assertTrue(Arrays.equals(actual, 0, actual.length, qemuView, 0, actual.length),
                    "round " + round + ": QEMU reads the same data as we do");
            state = actual;
            flushedTotal += run.lastFlushed + 1;
            System.err.printf("crash round %d: killed after %d ms at step %d, last flush after step %d,"
                    + " leaks %d%n", round, delayMs, run.lastStarted, run.lastFlushed, check.leaks());
        }
        assertTrue(flushedTotal > 0, "the writer got far enough to flush at least once");
        // after all the kills, the image still takes writes and stays consistent
        try (Qcow2Image img = Qcow2Image.open(image)) {
            img.write(0, ByteBuffer.wrap(DiskModel.randomBytes(rnd, 1 << 20)));
        }
        assertEquals(0, QemuTools.check(image).corruptions());
    }

    private record Run(int lastStarted, int lastFlushed) {}

    private static Run runAndKill(Path image, Path markers, long seed, int clusterSize, long delayMs)
            throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                Qcow2CrashWriter.class.getName(), image.toString(), Long.toString(seed),
                Integer.toString(clusterSize), markers.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                }
            } catch (IOException e) {
                // the pipe breaks when the process dies
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!lines.contains("READY")) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                fail("crash writer did not start (exit " + (p.isAlive() ? "-" : p.exitValue()) + ")");
            }
            Thread.sleep(10);
        }
        Thread.sleep(delayMs);
        assertTrue(p.isAlive(), "the writer is still writing when killed");
        p.destroyForcibly(); // SIGKILL
        p.waitFor(30, TimeUnit.SECONDS);
        reader.join(10_000);
        int started = -1;
        int flushed = -1;
        for (String l : Files.readAllLines(markers)) {
            if (l.startsWith("S ")) {
                started = Integer.parseInt(l.substring(2));
            } else if (l.startsWith("F ")) {
                flushed = Integer.parseInt(l.substring(2));
            }
        }
        return new Run(started, flushed);
    }

    private static byte[] readRegion(Path image) {
        try (Qcow2Image img = Qcow2Image.openReadOnly(image)) {
            ByteBuffer b = ByteBuffer.allocate(CrashWorkload.VERIFIED_REGION);
            img.read(0, b);
            return b.array();
        }
    }

    /**
     * Every sector must hold its value as of the last completed flush, or a value some later,
     * possibly interrupted step wrote to it.
     */
    private static void verify(byte[] before, byte[] actual, List<CrashWorkload.Step> steps, int lastFlushed,
            int lastStarted, int round) {
        byte[] expected = before.clone();
        for (int i = 0; i <= lastFlushed; i++) {
            apply(expected, steps.get(i));
        }
        int mismatched = 0;
        for (int s = 0; s < expected.length / SECTOR; s++) {
            int at = s * SECTOR;
            if (Arrays.equals(expected, at, at + SECTOR, actual, at, at + SECTOR)) {
                continue;
            }
            mismatched++;
            boolean explained = false;
            for (int j = lastFlushed + 1; j <= lastStarted && !explained; j++) {
                CrashWorkload.Step st = steps.get(j);
                if (st.kind() == CrashWorkload.Kind.FLUSH || at < st.offset() || at >= st.offset() + st.length()) {
                    continue;
                }
                byte[] d = st.data();
                int rel = (int) (at - st.offset());
                explained = Arrays.equals(d, rel, rel + SECTOR, actual, at, at + SECTOR);
            }
            if (!explained) {
                fail(diagnose(before, actual, steps, lastFlushed, at) + "\n" + "round " + round + ": sector " + s + " holds data that neither the flushed state"
                        + " (after step " + lastFlushed + ") nor any later step (up to " + lastStarted
                        + ") wrote");
            }
        }
        System.err.printf("crash round %d: %d sectors changed by unflushed steps%n", round, mismatched);
    }

    /** Where the unexpected bytes of the sector at {@code at} came from, as far as can be told. */
    private static String diagnose(byte[] before, byte[] actual, List<CrashWorkload.Step> steps, int lastFlushed,
            int at) {
        byte[] got = Arrays.copyOfRange(actual, at, at + SECTOR);
        StringBuilder sb = new StringBuilder();
        byte[] exp = before.clone();
        for (int j = 0; j <= lastFlushed; j++) {
            apply(exp, steps.get(j));
        }
        int diff = 0;
        int first = -1;
        for (int i = 0; i < SECTOR; i++) {
            if (exp[at + i] != got[i]) {
                diff++;
                first = first < 0 ? i : first;
            }
        }
        sb.append(diff).append(" bytes differ from the flushed state, first at ").append(first).append("; ");
        if (Arrays.equals(got, new byte[SECTOR])) {
            sb.append("the sector reads as zeros; ");
        }
        if (Arrays.equals(before, at, at + SECTOR, got, 0, SECTOR)) {
            sb.append("it holds the value from before this round; ");
        }
        if (Arrays.equals(before, at, at + SECTOR, new byte[SECTOR], 0, SECTOR)) {
            sb.append("before this round it read as zeros; ");
        }
        if (BACKING != null && at + SECTOR <= BACKING.length && Arrays.equals(BACKING, at, at + SECTOR, got, 0, SECTOR)) {
            sb.append("it holds the backing file's data; ");
        }
        if (BACKING != null && at + SECTOR <= BACKING.length && Arrays.equals(BACKING, at, at + SECTOR, before, at, at + SECTOR)) {
            sb.append("before this round it held the backing file's data; ");
        }
        for (int o = 0; o + SECTOR <= before.length; o += SECTOR) {
            if (o != at && Arrays.equals(before, o, o + SECTOR, got, 0, SECTOR)) {
                sb.append("it holds what sector ").append(o / SECTOR).append(" held before; ");
                break;
            }
        }
        for (int j = 0; j < steps.size(); j++) {
            CrashWorkload.Step st = steps.get(j);
            if (st.kind() != CrashWorkload.Kind.WRITE) {
                continue;
            }
            byte[] d = st.data();
            for (int rel = 0; rel + SECTOR <= d.length; rel += SECTOR) {
                if (Arrays.equals(d, rel, rel + SECTOR, got, 0, SECTOR)) {
                    sb.append("it holds data of step ").append(j).append(" meant for offset ")
                            .append(st.offset() + rel).append("; ");
                }
            }
            if (at >= st.offset() && at < st.offset() + st.length()) {
                sb.append("step ").append(j).append(' ').append(st).append(" covers it; ");
            }
        }
        for (int j = 0; j <= lastFlushed; j++) {
            CrashWorkload.Step st = steps.get(j);
            if (st.kind() != CrashWorkload.Kind.WRITE && st.kind() != CrashWorkload.Kind.FLUSH
                    && at >= st.offset() && at < st.offset() + st.length()) {
                sb.append("step ").append(j).append(' ').append(st).append(" zeroed it; ");
            }
        }
        return sb.toString();
    }

    private static void apply(byte[] disk, CrashWorkload.Step s) {
        switch (s.kind()) {
            case WRITE -> System.arraycopy(s.data(), 0, disk, (int) s.offset(), s.length());
            case ZEROES, DISCARD -> Arrays.fill(disk, (int) s.offset(), (int) (s.offset() + s.length()), (byte) 0);
            case FLUSH -> {
                // nothing to change
            }
        }
    }
}
