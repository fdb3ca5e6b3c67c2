package io.boxlite.lab;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A guest console sink for the lab: echoes each line to {@code echo} with a prefix (so the outer
 * console shows which guest said what), keeps the last lines for failure reports, and records
 * when the first line containing {@code marker} arrived. Lines longer than 4 KiB are split.
 */
final class ConsoleWatch extends OutputStream {
    private static final int MAX_LINE = 4096;
    private static final int KEPT_LINES = 200;

    private final PrintStream echo;
    private final String prefix;
    private final String marker;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private final Deque<String> last = new ArrayDeque<>();
    private final CountDownLatch seen = new CountDownLatch(1);
    private volatile long markerNanos;
    private volatile String markerLine;

    ConsoleWatch(PrintStream echo, String prefix, String marker) {
        this.echo = echo;
        this.prefix = prefix;
        this.marker = marker;
    }

    @Override
    public synchronized void write(int b) {
        if (b == '\n' || line.size() >= MAX_LINE) {
            endLine();
            if (b == '\n') {
                return;
            }
        }
        if (b != '\r') {
            line.write(b);
        }
    }

    private void endLine() {
        String text = line.toString(StandardCharsets.UTF_8);
        line.reset();
        if (markerLine == null && text.contains(marker)) {
            markerNanos = System.nanoTime();
            markerLine = text;
            seen.countDown();
        }
        echo.println(prefix + text);
        last.addLast(text);
        if (last.size() > KEPT_LINES) {
            last.removeFirst();
        }
    }

    @Override
    public synchronized void flush() {
        echo.flush();
    }

    @Override
    public synchronized void close() {
        if (line.size() > 0) {
            endLine();
        }
        echo.flush();
    }

    /** Waits for the marker line; empty if it did not come within {@code timeout}. */
    Optional<String> awaitMarker(Duration timeout) throws InterruptedException {
        return seen.await(timeout.toNanos(), TimeUnit.NANOSECONDS) ? Optional.of(markerLine) : Optional.empty();
    }

    /** When the marker line ended ({@link System#nanoTime()}), or 0. */
    long markerNanos() {
        return markerNanos;
    }

    Optional<String> markerLine() {
        return Optional.ofNullable(markerLine);
    }

    /** The last lines seen, for a failure report. */
    synchronized String lastLines() {
        return String.join("\n", last);
    }
}
