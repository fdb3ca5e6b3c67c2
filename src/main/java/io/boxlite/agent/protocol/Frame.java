package io.boxlite.agent.protocol;

import java.util.Objects;

/**
 * One protocol frame. The payload array is owned by the frame: the decoder allocates a fresh
 * one per frame, and callers must not change it.
 *
 * @param type the frame type
 * @param stream the stream id ({@link StreamId}), 0 for frames that name none
 * @param payload the payload, at most {@link Limits#MAX_PAYLOAD} bytes
 */
public record Frame(FrameType type, int stream, byte[] payload) {
    private static final byte[] EMPTY = new byte[0];

    public Frame {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(payload, "payload");
        if (stream < 0 || stream > StreamId.STDERR) {
            throw new IllegalArgumentException("stream id " + stream + " is not 0..3");
        }
        if (payload.length > Limits.MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes exceeds " + Limits.MAX_PAYLOAD);
        }
    }

    public static Frame of(FrameType type) {
        return new Frame(type, StreamId.NONE, EMPTY);
    }

    public static Frame of(FrameType type, byte[] payload) {
        return new Frame(type, StreamId.NONE, payload);
    }

    /** A short description for error messages, without the payload bytes. */
    public String describe() {
        return type + (type.hasStream() ? "(" + StreamId.name(stream) + ")" : "") + " of " + payload.length + " bytes";
    }
}
