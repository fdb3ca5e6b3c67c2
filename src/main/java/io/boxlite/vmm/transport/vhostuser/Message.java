package io.boxlite.vmm.transport.vhostuser;

import io.boxlite.sys.Fd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * One vhost-user message: a 12-byte header (request, flags, payload size; little-endian) and
 * its payload, plus the descriptors that arrived with it. The payload accessors check bounds:
 * a short payload from the front-end is a protocol error, not an exception deep in a parser.
 */
record Message(int request, int flags, byte[] payload, List<Fd> fds) {
    static final int HEADER = 12;
    /** Larger than any message we accept (SET_MEM_TABLE: 8 + 8 × 32 bytes; GET_CONFIG: 12 + 256). */
    static final int MAX_PAYLOAD = 4096;

    boolean needsReply() {
        return (flags & Request.FLAG_NEED_REPLY) != 0;
    }

    ByteBuffer body(int minimum) throws ProtocolException {
        if (payload.length < minimum) {
            throw new ProtocolException(Request.name(request) + " payload is " + payload.length
                    + " bytes, needs at least " + minimum);
        }
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The single descriptor this message must carry. */
    Fd onlyFd() throws ProtocolException {
        if (fds.size() != 1) {
            throw new ProtocolException(Request.name(request) + " carries " + fds.size() + " descriptors, expected 1");
        }
        return fds.getFirst();
    }

    static byte[] encode(int request, int flags, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(HEADER + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(request).putInt(flags).putInt(payload.length).put(payload);
        return b.array();
    }

    static byte[] u64(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    /** A malformed or unacceptable message: the session with that front-end ends. */
    static final class ProtocolException extends Exception {
        private static final long serialVersionUID = 1L;

        ProtocolException(String message) {
            super(message);
        }
    }
}
