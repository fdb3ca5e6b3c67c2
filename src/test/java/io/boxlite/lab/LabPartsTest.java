package io.boxlite.lab;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The lab's pieces that need no VM: verdict parsing, the benchmark table, the image writer, the console watch. */
class LabPartsTest {
    @Test
    void verdictAndBenchLinesAreParsedAndEverythingElseIgnored() {
        List<LabRun.Verdict> verdicts = new ArrayList<>();
        List<String> bench = new ArrayList<>();
        for (String line : List.of("inner1| LAB-RESULT boot:1 PASS fake", "LAB-RESULT boot:1 PASS cpus=1 exit=GuestReset",
                "LAB-RESULT box FAIL threw x", "LAB-BENCH ours-vm ok marker_ms=1.0 exit_ms=2.0", "[ 1.0] kernel")) {
            LabRun.parse(line, verdicts, bench);
        }
        assertEquals(List.of(new LabRun.Verdict("boot:1", true, "cpus=1 exit=GuestReset"),
                new LabRun.Verdict("box", false, "threw x")), verdicts);
        assertEquals(List.of("LAB-BENCH ours-vm ok marker_ms=1.0 exit_ms=2.0"), bench);
    }

    @Test
    void theBenchTableGivesMedianAndRangePerSeriesAndCountsFailures() {
        String table = LabMain.benchTable(List.of(
                "LAB-BENCH ours-vm ok marker_ms=300.0 exit_ms=310.0",
                "LAB-BENCH ours-vm ok marker_ms=100.0 exit_ms=110.0",
                "LAB-BENCH ours-vm ok marker_ms=200.0 exit_ms=210.0",
                "LAB-BENCH qemu-process ok marker_ms=400.0 exit_ms=500.0",
                "LAB-BENCH qemu-process ok marker_ms=600.0 exit_ms=700.0",
                "LAB-BENCH qemu-process failed marker_ms=NaN exit_ms=NaN"));
        assertTrue(table.contains("| ours-vm | 200 (100–300) | 210 (110–310) | 3 | 0 |"), table);
        assertTrue(table.contains("| qemu-process | 500 (400–600) | 600 (500–700) | 2 | 1 |"), table);
    }

    @Test
    void theImageArchiveHasEveryDirectoryBeforeItsFilesAndKeepsLinksAndModes(@TempDir Path dir) throws Exception {
        Path host = Files.createDirectories(dir.resolve("tree/sub"));
        Files.writeString(host.resolve("a.txt"), "alpha");
        Files.createSymbolicLink(dir.resolve("tree/link"), Path.of("sub/a.txt"));
        ImageTree tree = new ImageTree().text("init", "#!/bin/sh\n", 0755).tree("x/y", dir.resolve("tree"))
                .bytes("deep/er/file", new byte[] {1, 2, 3}, 0600);
        Path cpio = dir.resolve("out.cpio");
        tree.write(cpio);
        List<String[]> entries = readNewc(Files.readAllBytes(cpio));
        List<String> names = entries.stream().map(e -> e[0]).toList();
        assertEquals(List.of("deep", "deep/er", "deep/er/file", "init", "x", "x/y", "x/y/link", "x/y/sub", "x/y/sub/a.txt"),
                names);
        assertEquals("120777", entries.get(names.indexOf("x/y/link"))[1], "a symbolic link");
        assertEquals("sub/a.txt", entries.get(names.indexOf("x/y/link"))[2]);
        assertEquals("100755", entries.get(names.indexOf("init"))[1]);
        assertEquals("100600", entries.get(names.indexOf("deep/er/file"))[1]);
        assertEquals("alpha", entries.get(names.indexOf("x/y/sub/a.txt"))[2]);
        assertEquals("40755", entries.get(names.indexOf("x/y/sub"))[1]);
    }

    @Test
    void twoDifferentFilesForOnePathAreRefused(@TempDir Path dir) {
        ImageTree tree = new ImageTree().text("etc/a", "one", 0644);
        assertThrows(IllegalArgumentException.class, () -> tree.text("/etc/a", "two", 0644));
    }

    @Test
    void theConsoleWatchEchoesPrefixedLinesAndTimesTheMarker() throws Exception {
        ByteArrayOutputStream echoed = new ByteArrayOutputStream();
        ConsoleWatch w = new ConsoleWatch(new PrintStream(echoed, true, StandardCharsets.UTF_8), "in| ", "MARK");
        w.write("boot\r\nMARK cpus=2\npartial".getBytes(StandardCharsets.UTF_8));
        assertEquals("MARK cpus=2", w.awaitMarker(Duration.ofSeconds(1)).orElseThrow());
        assertTrue(w.markerNanos() > 0);
        w.close();
        assertEquals("in| boot\nin| MARK cpus=2\nin| partial\n", echoed.toString(StandardCharsets.UTF_8));
        assertTrue(w.lastLines().endsWith("partial"));
    }

    @Test
    void aBootResultPassesOnlyWithEveryCpuReportedAndAGuestExit() {
        var stats = List.<io.boxlite.vmm.vstate.VcpuStats>of();
        var ok = new InnerBoot.Result(2, java.util.Optional.of("BOXLITE-LAB-MARKER cpus=2"), 1, 1,
                new io.boxlite.vmm.vstate.VmExit.GuestReset(), 2, stats, "");
        var oneCpu = new InnerBoot.Result(2, java.util.Optional.of("BOXLITE-LAB-MARKER cpus=1"), 1, 1,
                new io.boxlite.vmm.vstate.VmExit.GuestReset(), 2, stats, "");
        var stopped = new InnerBoot.Result(2, java.util.Optional.empty(), Double.NaN, 1,
                new io.boxlite.vmm.vstate.VmExit.Stopped(), 2, stats, "");
        assertTrue(ok.passed());
        assertFalse(oneCpu.passed());
        assertFalse(stopped.passed());
        assertTrue(stopped.stalled());
    }

    @Test
    void aSilentOuterRunIsCutShortKeptAsStalledAndRetriedOnce(@TempDir Path dir) throws Exception {
        Path qemu = fakeQemu(dir, "echo LAB-OUTER up\nexec sleep 60");
        List<String> lines = new ArrayList<>();
        LabRun.Report r = LabRun.runWithRetry(new LabRun.Settings(qemu, 1, 64, Duration.ofSeconds(30), Duration.ofSeconds(1)),
                dir.resolve("vmlinuz"), dir.resolve("outer.cpio"), List.of("boot:1"), dir.resolve("lab.log"), lines::add);
        assertFalse(r.completed());
        assertEquals(2, r.attempts());
        assertTrue(r.problem().startsWith("stalled twice: first no console output for 1 s"), r.problem());
        assertTrue(Files.readString(dir.resolve("lab.log.stalled")).contains("LAB-OUTER up"), "the first log is kept");
        assertTrue(lines.stream().anyMatch(l -> l.contains("retrying once")), lines.toString());
        assertTrue(r.wall().toSeconds() < 20, "cut short, not run to the deadline: " + r.wall());
    }

    @Test
    void aRunThatReachesLabDoneCompletesWithItsVerdictsAndSeesTheCommandLine(@TempDir Path dir) throws Exception {
        Path qemu = fakeQemu(dir, "case \"$*\" in *boxlite.lab=boot:1,box*) echo 'LAB-RESULT boot:1 PASS cpus=1';;"
                + " esac\necho 'LAB-RESULT box FAIL threw'\necho LAB-DONE");
        LabRun.Report r = LabRun.runWithRetry(new LabRun.Settings(qemu, 1, 64, Duration.ofSeconds(30), Duration.ofSeconds(10)),
                dir.resolve("vmlinuz"), dir.resolve("outer.cpio"), List.of("boot:1", "box"), dir.resolve("lab.log"), l -> { });
        assertTrue(r.completed(), r.problem());
        assertEquals(1, r.attempts());
        assertEquals(List.of(new LabRun.Verdict("boot:1", true, "cpus=1"), new LabRun.Verdict("box", false, "threw")),
                r.verdicts());
    }

    private static Path fakeQemu(Path dir, String body) throws Exception {
        Path qemu = dir.resolve("fake-qemu");
        Files.writeString(qemu, "#!/bin/sh\n" + body + "\n");
        qemu.toFile().setExecutable(true);
        return qemu;
    }

    /** newc entries as {name, octal mode, content}. */
    private static List<String[]> readNewc(byte[] a) {
        List<String[]> out = new ArrayList<>();
        int pos = 0;
        while (true) {
            String h = new String(a, pos, 110, StandardCharsets.US_ASCII);
            assertEquals("070701", h.substring(0, 6));
            int mode = Integer.parseInt(h.substring(14, 22), 16);
            int size = Integer.parseInt(h.substring(54, 62), 16);
            int nameSize = Integer.parseInt(h.substring(94, 102), 16);
            String name = new String(a, pos + 110, nameSize - 1, StandardCharsets.US_ASCII);
            pos = align(pos + 110 + nameSize);
            String content = new String(a, pos, size, StandardCharsets.UTF_8);
            pos = align(pos + size);
            if (name.equals("TRAILER!!!")) {
                return out;
            }
            out.add(new String[] {name, Integer.toOctalString(mode), content});
        }
    }

    private static int align(int p) {
        return (p + 3) & ~3;
    }
}
