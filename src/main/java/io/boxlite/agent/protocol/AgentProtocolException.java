package io.boxlite.agent.protocol;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

/**
 * A frame or message from the guest agent broke the protocol: malformed, oversize, out of
 * order or beyond its flow-control window. The channel it arrived on is closed; other channels
 * to the same agent are unaffected. Carries {@link ErrorCode#RPC}.
 */
public final class AgentProtocolException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public AgentProtocolException(String message) {
        super(ErrorCode.RPC, message);
    }
}
