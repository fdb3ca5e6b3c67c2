package io.boxlite.agent.protocol;

import java.util.Optional;

/** The frame types of guest protocol 1 ({@code docs/guest-protocol.md}). */
public enum FrameType {
    HELLO(0x01),
    ERROR(0x02),
    PING(0x03),
    PONG(0x04),
    EXEC(0x10),
    STARTED(0x11),
    DATA(0x12),
    EOF(0x13),
    WINDOW(0x14),
    SIGNAL(0x15),
    RESIZE(0x16),
    EXIT(0x17),
    COPY_IN(0x20),
    COPY_OUT(0x21),
    COPY_DONE(0x22),
    STATS_REQUEST(0x30),
    STATS(0x31),
    SHUTDOWN(0x40),
    SHUTDOWN_ACK(0x41);

    private static final FrameType[] BY_CODE = new FrameType[256];

    static {
        for (FrameType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;

    FrameType(int code) {
        this.code = code;
    }

    /** The type byte on the wire. */
    public int code() {
        return code;
    }

    /** Whether frames of this type name a stream (DATA, EOF, WINDOW); all others carry stream 0. */
    public boolean hasStream() {
        return this == DATA || this == EOF || this == WINDOW;
    }

    /** The type for a wire byte, if it is one. */
    public static Optional<FrameType> of(int code) {
        return code >= 0 && code < BY_CODE.length ? Optional.ofNullable(BY_CODE[code]) : Optional.empty();
    }
}
