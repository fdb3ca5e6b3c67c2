package io.boxlite.agent.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Objects;

/**
 * Reads and validates frames from a byte stream: the length is checked before anything is
 * allocated, the reserved bytes must be zero, the type must be known and only DATA, EOF and
 * WINDOW may name a stream. Not thread-safe: one reader per channel.
 */
public final class FrameReader {
    private final ReadableByteChannel in;
    private final ByteBuffer header = ByteBuffer.allocate(Limits.HEADER_BYTES);

    public FrameReader(ReadableByteChannel in) {
        this.in = Objects.requireNonNull(in, "in");
    }

    /**
     * The next frame, or {@code null} when the stream ends cleanly between frames.
     *
     * @throws AgentProtocolException if the frame is malformed
     * @throws EOFException if the stream ends inside a frame
     */
    public Frame read() throws IOException {
        header.clear();
        if (!fill(header, true)) {
            return null;
        }
        header.flip();
        long length = Integer.toUnsignedLong(header.getInt());
        int typeCode = Byte.toUnsignedInt(header.get());
        int stream = Byte.toUnsignedInt(header.get());
        int reserved = Short.toUnsignedInt(header.getShort());
        FrameType type = validateHeader(length, typeCode, stream, reserved);
        ByteBuffer payload = ByteBuffer.allocate(Math.toIntExact(length));
        fill(payload, false);
        return new Frame(type, stream, payload.array());
    }

    /** Checks a header's fields; returns the type. */
    public static FrameType validateHeader(long length, int typeCode, int stream, int reserved) {
        if (length > Limits.MAX_PAYLOAD) {
            throw new AgentProtocolException("Frame payload of " + length + " bytes exceeds the limit of "
                    + Limits.MAX_PAYLOAD + " bytes");
        }
        if (reserved != 0) {
            throw new AgentProtocolException("Frame header reserved bytes are 0x%04x, not zero".formatted(reserved));
        }
        FrameType type = FrameType.of(typeCode).orElseThrow(
                () -> new AgentProtocolException("Unknown frame type 0x%02x".formatted(typeCode)));
        if (stream > StreamId.STDERR) {
            throw new AgentProtocolException("Frame " + type + " names unknown stream " + stream);
        }
        if (!type.hasStream() && stream != StreamId.NONE) {
            throw new AgentProtocolException("Frame " + type + " must carry stream 0, not " + stream);
        }
        if (type.hasStream() && stream == StreamId.NONE) {
            throw new AgentProtocolException("Frame " + type + " must name a stream");
        }
        return type;
    }

    private boolean fill(ByteBuffer buf, boolean eofAllowedAtStart) throws IOException {
        while (buf.hasRemaining()) {
            int n = in.read(buf);
            if (n < 0) {
                if (eofAllowedAtStart && buf.position() == 0) {
                    return false;
                }
                throw new EOFException("The guest agent's stream ended inside a frame (" + buf.position()
                        + " of " + buf.limit() + " bytes)");
            }
        }
        return true;
    }
}
