package io.boxlite.cli;

import io.boxlite.StorageException;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Prints a log file, or its last lines, and with {@link #follow} what is appended to it until
 * told to stop, like {@code tail -f}: it polls the file's size (the log's writer, QEMU or a box
 * host, is another process) and starts over when the file shrinks (a box restarted rewrites its
 * console log). Bytes are decoded as UTF-8, malformed ones replaced, sequences split across
 * reads kept whole.
 */
final class LogFollower {
    /** How often a followed file is checked for new bytes: {@code tail -f} checks once a second. */
    static final Duration POLL = Duration.ofMillis(200);
    private static final int CHUNK = 64 * 1024;

    private final Path file;
    private final PrintWriter out;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
    private final ByteBuffer bytes = ByteBuffer.allocate(CHUNK);
    private final CharBuffer chars = CharBuffer.allocate(CHUNK);
    private long position;

    private LogFollower(Path file, PrintWriter out) {
        this.file = file;
        this.out = out;
    }

    /**
     * Prints {@code file}, only its last {@code lines} lines when that is not negative; a missing
     * file prints nothing.
     */
    static void print(Path file, int lines, PrintWriter out) {
        LogFollower f = new LogFollower(file, out);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            f.position = lines < 0 ? 0 : startOfLastLines(ch, lines);
            f.drain(ch);
            f.finish();
        } catch (NoSuchFileException e) {
            // nothing logged yet
        } catch (IOException e) {
            throw new StorageException("Cannot read the log " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Prints {@code file} as {@link #print} does, then what is appended to it, until {@code ended}
     * says the writer is done (checked once per {@link #POLL}); what was written before that is
     * printed too. Waits for a missing file to appear.
     *
     * @throws InterruptedException if interrupted while waiting for more
     */
    static void follow(Path file, int lines, PrintWriter out, BooleanSupplier ended) throws InterruptedException {
        LogFollower f = new LogFollower(file, out);
        try {
            f.followUntil(lines, ended);
        } catch (IOException e) {
            throw new StorageException("Cannot read the log " + file + ": " + e.getMessage(), e);
        }
    }

    private void followUntil(int lines, BooleanSupplier ended) throws IOException, InterruptedException {
        while (!Files.exists(file)) {
            if (ended.getAsBoolean()) {
                return;
            }
            Thread.sleep(POLL);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            position = lines < 0 ? 0 : startOfLastLines(ch, lines);
            while (true) {
                // why: read the flag before draining, so bytes written just before the end are printed
                boolean done = ended.getAsBoolean();
                if (ch.size() < position) {
                    position = 0; // rewritten from the start
                    bytes.clear();
                    decoder.reset();
                }
                drain(ch);
                if (done) {
                    finish();
                    return;
                }
                Thread.sleep(POLL);
            }
        }
    }

    /** The offset at which the last {@code n} lines begin (a final line without newline counts). */
    static long startOfLastLines(FileChannel ch, int n) throws IOException {
        long end = ch.size();
        if (n == 0) {
            return end;
        }
        ByteBuffer buf = ByteBuffer.allocate(8192);
        long pos = end;
        int newlines = 0;
        boolean skippedFinal = false;
        while (pos > 0) {
            int len = (int) Math.min(buf.capacity(), pos);
            pos -= len;
            buf.clear().limit(len);
            while (buf.hasRemaining()) {
                if (ch.read(buf, pos + buf.position()) < 0) {
                    return 0; // truncated under us
                }
            }
            for (int i = len - 1; i >= 0; i--) {
                if (buf.get(i) != '\n') {
                    continue;
                }
                if (!skippedFinal && pos + i == end - 1) {
                    skippedFinal = true; // the newline that ends the last line
                    continue;
                }
                if (++newlines == n) {
                    return pos + i + 1;
                }
            }
        }
        return 0;
    }

    private void drain(FileChannel ch) throws IOException {
        while (true) {
            int n = ch.read(bytes, position);
            if (n <= 0) {
                out.flush();
                return;
            }
            position += n;
            bytes.flip();
            decoder.decode(bytes, chars, false);
            emit();
            bytes.compact();
        }
    }

    private void finish() {
        bytes.flip();
        decoder.decode(bytes, chars, true);
        decoder.flush(chars);
        emit();
        bytes.clear();
        out.flush();
    }

    private void emit() {
        chars.flip();
        out.append(chars);
        chars.clear();
    }
}
