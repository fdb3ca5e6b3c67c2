package io.boxlite.agent.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Bounds-checked reading of one frame's payload; any violation is an {@link AgentProtocolException}. */
public final class PayloadReader {
    private final ByteBuffer buf;
    private final FrameType type;

    public PayloadReader(Frame frame) {
        this.buf = ByteBuffer.wrap(frame.payload());
        this.type = frame.type();
    }

    private void need(int n) {
        if (buf.remaining() < n) {
            throw new AgentProtocolException(type + " payload is too short (" + buf.capacity() + " bytes)");
        }
    }

    public int u8() {
        need(1);
        return Byte.toUnsignedInt(buf.get());
    }

    public int u16() {
        need(2);
        return Short.toUnsignedInt(buf.getShort());
    }

    public long u32() {
        need(4);
        return Integer.toUnsignedLong(buf.getInt());
    }

    /** An unsigned 64-bit value that must fit a signed long. */
    public long u64() {
        need(8);
        long v = buf.getLong();
        if (v < 0) {
            throw new AgentProtocolException(type + " carries a 64-bit value beyond 2^63");
        }
        return v;
    }

    /** A u32-length-prefixed UTF-8 string of at most {@code max} bytes. */
    public String string(int max, String what) {
        long n = u32();
        if (n > max) {
            throw new AgentProtocolException(type + " " + what + " of " + n + " bytes exceeds " + max);
        }
        need((int) n);
        ByteBuffer slice = buf.slice(buf.position(), (int) n);
        buf.position(buf.position() + (int) n);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(slice).toString();
        } catch (CharacterCodingException e) {
            throw new AgentProtocolException(type + " " + what + " is not valid UTF-8");
        }
    }

    /** Fails unless the whole payload was read. */
    public void end() {
        if (buf.hasRemaining()) {
            throw new AgentProtocolException(type + " payload has " + buf.remaining() + " unexpected trailing bytes");
        }
    }
}
