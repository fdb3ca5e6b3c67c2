package io.boxlite;

/**
 * Thrown when a caller-supplied value or environment variable is malformed or out of range.
 * Carries {@link ErrorCode#INVALID_ARGUMENT}.
 */
public class InvalidArgumentException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public InvalidArgumentException(String message) {
        super(ErrorCode.INVALID_ARGUMENT, message);
    }

    public InvalidArgumentException(String message, Throwable cause) {
        super(ErrorCode.INVALID_ARGUMENT, message, cause);
    }
}
