package io.boxlite.runtime;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.charset.StandardCharsets;

/**
 * The box host's control protocol on {@code boxes/{id}/sockets/box.sock}: one text line per
 * request, one line per answer ({@code OK [detail]} or {@code ERR message}).
 *
 * <pre>
 * CONNECT port   → OK, then the connection carries a raw stream to that guest vsock port
 * STATUS         → OK {json}
 * STOP millis    → OK once the box has stopped (graceful agent shutdown within millis, then forced)
 * EXEC n         then n bytes of JSON ({@link ExecRequestJson}), n ≤ 1 MiB
 *                → OK execId pid once the command runs in the background, owned by the host
 *                  (ERR CODE message, CODE an {@link io.boxlite.ErrorCode} name, if it cannot start)
 * </pre>
 */
final class HostProtocol {
    static final int MAX_LINE = 4096;
    /** The largest EXEC payload: the agent's own argv + env limit is below this. */
    static final int MAX_EXEC_BYTES = 1 << 20;

    private HostProtocol() {
    }

    /** Reads one line byte by byte, so nothing after it is consumed. */
    static String readLine(ByteChannel ch) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        byte[] buf = new byte[MAX_LINE];
        int n = 0;
        while (true) {
            one.clear();
            int r = ch.read(one);
            if (r < 0) {
                throw new EOFException("the box host closed the connection");
            }
            if (r == 0) {
                continue;
            }
            byte b = one.get(0);
            if (b == '\n') {
                return new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            if (n == MAX_LINE) {
                throw new IOException("control line longer than " + MAX_LINE + " bytes");
            }
            buf[n++] = b;
        }
    }

    /** Reads exactly {@code n} bytes. */
    static byte[] readExactly(ByteChannel ch, int n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new EOFException("the connection closed after " + buf.position() + " of " + n + " bytes");
            }
        }
        return buf.array();
    }

    static void writeLine(ByteChannel ch, String line) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((line.replace('\n', ' ') + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
