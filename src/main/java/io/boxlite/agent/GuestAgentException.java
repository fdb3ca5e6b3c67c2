package io.boxlite.agent;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.agent.protocol.Messages.ErrorReply;

/**
 * The guest agent refused or failed a request (an ERROR reply): the command was not found, the
 * user does not exist, a copy's archive was bad, and so on. {@link #agentCode()} is the
 * protocol's error code, {@link #errno()} the guest's errno when one applies (else 0).
 */
public final class GuestAgentException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    private final int agentCode;
    private final long errno;

    GuestAgentException(String what, ErrorReply reply) {
        super(errorCode(reply.code()), what + ": " + reply.message());
        this.agentCode = reply.code();
        this.errno = reply.errno();
    }

    public int agentCode() {
        return agentCode;
    }

    public long errno() {
        return errno;
    }

    /** Whether the command, user, group, directory or path was not found in the guest. */
    public boolean notFound() {
        return agentCode == ErrorReply.NOT_FOUND;
    }

    private static ErrorCode errorCode(int agentCode) {
        return switch (agentCode) {
            case ErrorReply.NOT_FOUND -> ErrorCode.NOT_FOUND;
            case ErrorReply.BAD_REQUEST -> ErrorCode.INVALID_ARGUMENT;
            case ErrorReply.UNSUPPORTED -> ErrorCode.UNSUPPORTED;
            case ErrorReply.LIMIT -> ErrorCode.RESOURCE_EXHAUSTED;
            case ErrorReply.BAD_FRAME -> ErrorCode.RPC;
            default -> ErrorCode.EXECUTION;
        };
    }
}
