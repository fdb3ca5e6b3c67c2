package io.boxlite;

/**
 * Thrown when an operation is not allowed in the current state, such as exec on a stopped box.
 * Carries {@link ErrorCode#INVALID_STATE}.
 */
public class InvalidStateException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public InvalidStateException(String message) {
        super(ErrorCode.INVALID_STATE, message);
    }

    public InvalidStateException(String message, Throwable cause) {
        super(ErrorCode.INVALID_STATE, message, cause);
    }
}
