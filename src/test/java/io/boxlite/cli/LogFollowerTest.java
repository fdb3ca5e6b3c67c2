package io.boxlite.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/** {@code logs} and {@code logs -f} on plain files: the tail, following, the end, rewrites. */
class LogFollowerTest {
    @TempDir
    Path dir;

    private static String print(Path file, int lines) {
        StringWriter s = new StringWriter();
        LogFollower.print(file, lines, new PrintWriter(s));
        return s.toString();
    }

    @Test
    void tailPrintsTheLastLinesCountingAnUnfinishedOne() throws Exception {
        Path f = Files.writeString(dir.resolve("a.log"), "one\ntwo\nthree\n");
        assertEquals("one\ntwo\nthree\n", print(f, -1));
        assertEquals("three\n", print(f, 1));
        assertEquals("two\nthree\n", print(f, 2));
        assertEquals("one\ntwo\nthree\n", print(f, 10));
        assertEquals("", print(f, 0));
        Files.writeString(f, "partial", StandardOpenOption.APPEND);
        assertEquals("three\npartial", print(f, 2));
        assertEquals("", print(dir.resolve("missing.log"), 5), "a log not written yet prints nothing");
    }

    @Test
    void tailFindsLinesAcrossManyReadBuffers() throws Exception {
        StringBuilder big = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            big.append("line ").append(i).append('\n');
        }
        Path f = Files.writeString(dir.resolve("big.log"), big);
        assertEquals("line 19997\nline 19998\nline 19999\n", print(f, 3));
        try (FileChannel ch = FileChannel.open(f)) {
            assertEquals(0, LogFollower.startOfLastLines(ch, 20_000));
        }
    }

    @Test
    void multiByteCharactersSplitAcrossWritesArriveWhole() throws Exception {
        Path f = dir.resolve("utf8.log");
        byte[] text = "grüße ✓\n".getBytes(StandardCharsets.UTF_8);
        Files.write(f, java.util.Arrays.copyOf(text, 4)); // ends inside 'ü'
        AtomicBoolean ended = new AtomicBoolean();
        StringWriter s = new StringWriter();
        CompletableFuture<Void> follow = CompletableFuture.runAsync(() -> followQuietly(f, -1, s, ended));
        Thread.sleep(3 * LogFollower.POLL.toMillis());
        try (OutputStream out = Files.newOutputStream(f, StandardOpenOption.APPEND)) {
            out.write(text, 4, text.length - 4);
        }
        ended.set(true);
        follow.get(10, TimeUnit.SECONDS);
        assertEquals("grüße ✓\n", s.toString());
    }

    @Test
    void followPrintsWhatIsAppendedAndEndsWhenToldWithNothingLost() throws Exception {
        Path f = Files.writeString(dir.resolve("f.log"), "old 1\nold 2\n");
        AtomicBoolean ended = new AtomicBoolean();
        StringWriter s = new StringWriter();
        CompletableFuture<Void> follow = CompletableFuture.runAsync(() -> followQuietly(f, 1, s, ended));
        Thread.sleep(3 * LogFollower.POLL.toMillis());
        Files.writeString(f, "new 1\n", StandardOpenOption.APPEND);
        waitFor(() -> s.toString().contains("new 1"));
        assertFalse(follow.isDone(), "it follows until told to stop");
        Files.writeString(f, "last words\n", StandardOpenOption.APPEND);
        ended.set(true); // the writer is done right after its last write
        follow.get(10, TimeUnit.SECONDS);
        assertEquals("old 2\nnew 1\nlast words\n", s.toString());
    }

    @Test
    void followStartsOverWhenTheFileIsRewrittenAndWaitsForAMissingOne() throws Exception {
        Path f = dir.resolve("later.log");
        AtomicBoolean ended = new AtomicBoolean();
        StringWriter s = new StringWriter();
        CompletableFuture<Void> follow = CompletableFuture.runAsync(() -> followQuietly(f, -1, s, ended));
        Thread.sleep(2 * LogFollower.POLL.toMillis());
        Files.writeString(f, "first boot, a long line\n");
        waitFor(() -> s.toString().contains("first boot"));
        Files.writeString(f, "reboot\n"); // truncated and rewritten, as QEMU does at a start
        waitFor(() -> s.toString().contains("reboot"));
        ended.set(true);
        follow.get(10, TimeUnit.SECONDS);
        assertEquals("first boot, a long line\nreboot\n", s.toString());
    }

    @Test
    void followOfAFileThatNeverAppearsEndsWithTheWriter() throws Exception {
        AtomicBoolean ended = new AtomicBoolean(true);
        StringWriter s = new StringWriter();
        CompletableFuture.runAsync(() -> followQuietly(dir.resolve("never.log"), -1, s, ended))
                .get(10, TimeUnit.SECONDS);
        assertEquals("", s.toString());
    }

    private static void followQuietly(Path f, int lines, StringWriter s, AtomicBoolean ended) {
        try {
            LogFollower.follow(f, lines, new PrintWriter(s), ended::get);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 200 && !condition.getAsBoolean(); i++) {
            Thread.sleep(50);
        }
        assertTrue(condition.getAsBoolean(), "condition not reached in 10 s");
    }
}
