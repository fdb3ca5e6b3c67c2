package io.boxlite.engine.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * A QEMU Machine Protocol client over QEMU's Unix socket: newline-delimited JSON, one command
 * at a time, asynchronous events queued. Plain java.nio socket I/O, so it is cheap on virtual
 * threads; a virtual thread reads the socket.
 */
public final class QmpClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_LINE = 1 << 20; // QEMU's replies are small; refuse a runaway peer

    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;
    private final SynchronousQueue<JsonNode> replies = new SynchronousQueue<>();
    private final BlockingQueue<JsonNode> events = new LinkedBlockingQueue<>();
    private final Thread reader;
    private volatile IOException failure;

    private QmpClient(SocketChannel channel) throws IOException {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.out = Channels.newOutputStream(channel);
        JsonNode greeting = readMessage();
        if (greeting == null || !greeting.has("QMP")) {
            throw new IOException("not a QMP greeting: " + greeting);
        }
        this.reader = Thread.ofVirtual().name("boxlite-qmp").start(this::readLoop);
    }

    /**
     * Connects to QEMU's QMP socket, retrying until it appears or {@code timeout} passes, and
     * leaves capability negotiation mode.
     */
    public static QmpClient connect(Path socket, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            SocketChannel ch = null;
            try {
                ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                QmpClient client = new QmpClient(ch);
                client.execute("qmp_capabilities", Map.of());
                return client;
            } catch (IOException e) {
                last = e;
                closeQuietly(ch);
                sleep(20);
            }
        }
        throw new BoxliteException(ErrorCode.ENGINE, "Cannot reach QEMU's control socket " + socket + " within "
                + timeout.toMillis() + " ms: " + (last == null ? "timed out" : last.getMessage())
                + "; see the box's qemu.log", last);
    }

    private void readLoop() {
        try {
            JsonNode msg;
            while ((msg = readMessage()) != null) {
                if (msg.has("event")) {
                    events.add(msg);
                } else {
                    replies.put(msg);
                }
            }
            failure = new IOException("QEMU closed its control socket");
        } catch (IOException e) {
            failure = e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private JsonNode readMessage() throws IOException {
        String line = in.readLine();
        if (line == null) {
            return null;
        }
        if (line.length() > MAX_LINE) {
            throw new IOException("QMP message over " + MAX_LINE + " characters");
        }
        return JSON.readTree(line);
    }

    /** Runs a command and returns its {@code return} value; a QMP error becomes an exception. */
    public synchronized JsonNode execute(String command, Map<String, ?> arguments) {
        ObjectNode request = JSON.createObjectNode().put("execute", command);
        if (!arguments.isEmpty()) {
            request.set("arguments", JSON.valueToTree(arguments));
        }
        try {
            out.write((JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            JsonNode reply = null;
            while (reply == null) {
                if (failure != null) {
                    throw failure;
                }
                reply = replies.poll(100, TimeUnit.MILLISECONDS);
            }
            if (reply.has("error")) {
                throw new BoxliteException(ErrorCode.ENGINE, "QEMU refused " + command + ": "
                        + reply.get("error").path("desc").asText(reply.get("error").toString()));
            }
            return reply.path("return");
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.ENGINE, "QMP " + command + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.ENGINE, "Interrupted while waiting for QMP " + command, e);
        }
    }

    /** The next event named {@code name}, or null after {@code timeout}; other events are dropped. */
    public JsonNode awaitEvent(String name, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode e = left <= 0 ? null : events.poll(left, TimeUnit.NANOSECONDS);
            if (e == null || name.equals(e.path("event").asText())) {
                return e;
            }
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
        reader.interrupt();
    }

    private static void closeQuietly(SocketChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing a socket QEMU may already have dropped
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
