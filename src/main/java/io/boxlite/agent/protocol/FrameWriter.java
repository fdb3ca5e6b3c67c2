package io.boxlite.agent.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/** Writes frames to a byte stream; whole frames, never interleaved. Thread-safe. */
public final class FrameWriter {
    private final WritableByteChannel out;
    private final ReentrantLock lock = new ReentrantLock();

    public FrameWriter(WritableByteChannel out) {
        this.out = Objects.requireNonNull(out, "out");
    }

    public void write(Frame frame) throws IOException {
        write(frame.type(), frame.stream(), frame.payload(), 0, frame.payload().length);
    }

    /** Writes a frame whose payload is {@code payload[offset, offset + length)}. */
    public void write(FrameType type, int stream, byte[] payload, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, payload.length);
        if (length > Limits.MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + length + " bytes exceeds " + Limits.MAX_PAYLOAD);
        }
        ByteBuffer header = ByteBuffer.allocate(Limits.HEADER_BYTES)
                .putInt(length).put((byte) type.code()).put((byte) stream).putShort((short) 0).flip();
        ByteBuffer body = ByteBuffer.wrap(payload, offset, length);
        lock.lock();
        try {
            while (header.hasRemaining()) {
                out.write(header);
            }
            while (body.hasRemaining()) {
                out.write(body);
            }
        } finally {
            lock.unlock();
        }
    }
}
