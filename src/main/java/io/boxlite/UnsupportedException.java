package io.boxlite;

/**
 * Thrown when a requested feature is not supported on this host or by this build.
 * Carries {@link ErrorCode#UNSUPPORTED}.
 */
public class UnsupportedException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public UnsupportedException(String message) {
        super(ErrorCode.UNSUPPORTED, message);
    }

    public UnsupportedException(String message, Throwable cause) {
        super(ErrorCode.UNSUPPORTED, message, cause);
    }
}
