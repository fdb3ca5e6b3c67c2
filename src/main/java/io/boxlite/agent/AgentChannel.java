package io.boxlite.agent;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.UnsupportedException;
import io.boxlite.agent.protocol.AgentProtocolException;
import io.boxlite.agent.protocol.Frame;
import io.boxlite.agent.protocol.FrameReader;
import io.boxlite.agent.protocol.FrameType;
import io.boxlite.agent.protocol.FrameWriter;
import io.boxlite.agent.protocol.Messages;
import io.boxlite.agent.protocol.Messages.Hello;
import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** One connection to the agent, greeted and version-checked. Reads from one thread at a time. */
final class AgentChannel implements AutoCloseable {
    private final ByteChannel channel;
    private final FrameReader reader;
    private final FrameWriter writer;
    private final Hello hello;

    private AgentChannel(ByteChannel channel, Hello hello) {
        this.channel = channel;
        this.reader = new FrameReader(channel);
        this.writer = new FrameWriter(channel);
        this.hello = hello;
    }

    /** Connects and reads the agent's HELLO, giving up after {@code timeout}. */
    static AgentChannel open(GuestConnector connector, int port, Duration timeout) {
        ByteChannel channel;
        try {
            channel = connector.open(port);
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT,
                    "Cannot connect to the guest agent on port " + port + ": " + e.getMessage(), e);
        }
        // A read cannot time out by itself: wait on a virtual thread and close the channel on expiry.
        CompletableFuture<Hello> greeting = new CompletableFuture<>();
        Thread.ofVirtual().name("boxlite-agent-hello").start(() -> {
            try {
                Frame f = new FrameReader(channel).read();
                if (f == null) {
                    throw new BoxliteException(ErrorCode.RPC_TRANSPORT,
                            "The guest agent closed the connection on port " + port + " without a greeting");
                }
                if (f.type() == FrameType.ERROR) {
                    throw new GuestAgentException("The guest agent refused the connection", Messages.error(f));
                }
                greeting.complete(Messages.hello(f));
            } catch (Throwable t) {
                greeting.completeExceptionally(t);
            }
        });
        try {
            Hello hello = greeting.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            checkVersion(hello);
            return new AgentChannel(channel, hello);
        } catch (TimeoutException e) {
            closeQuietly(channel);
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "The guest agent did not greet within "
                    + timeout.toMillis() + " ms on port " + port + ": is the agent running there?");
        } catch (InterruptedException e) {
            closeQuietly(channel);
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "Interrupted while connecting to the guest agent");
        } catch (ExecutionException e) {
            closeQuietly(channel);
            if (e.getCause() instanceof BoxliteException b) {
                throw b;
            }
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT,
                    "Reading the guest agent's greeting failed: " + e.getCause().getMessage(), e.getCause());
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    static void checkVersion(Hello hello) {
        if (hello.major() != Messages.PROTOCOL_MAJOR) {
            throw new UnsupportedException("The guest agent (" + hello.agent() + ") speaks protocol "
                    + hello.major() + "." + hello.minor() + " but this host speaks " + Messages.PROTOCOL_MAJOR
                    + ".x: use the agent built with this BoxLite version (rebuild the box's initramfs)");
        }
    }

    Hello hello() {
        return hello;
    }

    /** The next frame; {@code null} at a clean end of stream. */
    Frame read() throws IOException {
        return reader.read();
    }

    /** The next frame, which must exist. */
    Frame expectFrame(String context) throws IOException {
        Frame f = reader.read();
        if (f == null) {
            throw new AgentProtocolException("The guest agent closed the channel while " + context);
        }
        return f;
    }

    void send(FrameType type, int stream, byte[] payload) throws IOException {
        writer.write(type, stream, payload, 0, payload.length);
    }

    void send(FrameType type, int stream, byte[] payload, int offset, int length) throws IOException {
        writer.write(type, stream, payload, offset, length);
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(ByteChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do: the stream is gone either way
        }
    }
}
