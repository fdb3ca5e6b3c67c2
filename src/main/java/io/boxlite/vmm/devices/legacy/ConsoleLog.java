package io.boxlite.vmm.devices.legacy;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Where the guest console goes: the last {@code tailBytes} bytes kept in memory (for error
 * reports and tests) and, optionally, a copy to a stream (a log file, stdout) of at most
 * {@code streamLimit} bytes, after which one notice is written and the rest dropped. A guest
 * that prints forever cannot fill the disk or memory. Lines are flushed at each newline.
 *
 * {@snippet :
 * try (ConsoleLog log = ConsoleLog.toStream(Files.newOutputStream(path), 8 << 20, 64 << 10)) {
 *     Serial8250 com1 = new Serial8250(log, irq);
 * }
 * }
 */
public final class ConsoleLog implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ConsoleLog.class.getName());

    private final byte[] tail;
    private long written;
    private final OutputStream stream;
    private final long streamLimit;
    private boolean streamFailed;

    private ConsoleLog(int tailBytes, OutputStream stream, long streamLimit) {
        if (tailBytes <= 0) {
            throw new IllegalArgumentException("tail size must be positive: " + tailBytes);
        }
        this.tail = new byte[tailBytes];
        this.stream = stream;
        this.streamLimit = streamLimit;
    }

    /** Memory only. */
    public static ConsoleLog inMemory(int tailBytes) {
        return new ConsoleLog(tailBytes, null, 0);
    }

    /** Memory, plus a copy of the first {@code streamLimit} bytes to {@code stream} (closed with this log). */
    public static ConsoleLog toStream(OutputStream stream, long streamLimit, int tailBytes) {
        return new ConsoleLog(tailBytes, stream, streamLimit);
    }

    /** Appends one byte of guest output. */
    public synchronized void write(byte b) {
        tail[(int) (written % tail.length)] = b;
        written++;
        if (stream == null || streamFailed) {
            return;
        }
        try {
            if (written <= streamLimit) {
                stream.write(b);
                if (b == '\n') {
                    stream.flush();
                }
            } else if (written == streamLimit + 1) {
                stream.write(("\n[boxlite: console output past " + streamLimit + " bytes dropped]\n")
                        .getBytes(StandardCharsets.US_ASCII));
                stream.flush();
            }
        } catch (IOException e) {
            streamFailed = true;
            LOG.log(System.Logger.Level.WARNING, "guest console copy failed; keeping only the in-memory tail", e);
        }
    }

    /** Total bytes the guest wrote. */
    public synchronized long bytesWritten() {
        return written;
    }

    /** The last bytes written (at most the tail size), decoded leniently as UTF-8. */
    public synchronized String tail() {
        int n = (int) Math.min(written, tail.length);
        byte[] out = new byte[n];
        int start = (int) ((written - n) % tail.length);
        for (int i = 0; i < n; i++) {
            out[i] = tail[(start + i) % tail.length];
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void close() {
        if (stream != null) {
            try {
                stream.flush();
                if (stream != System.out && stream != System.err) {
                    stream.close();
                }
            } catch (IOException e) {
                throw new UncheckedIOException("closing the guest console log failed", e);
            }
        }
    }
}
