package io.boxlite;

import java.util.Objects;

/**
 * The one exception type of BoxLite for Java. Every failure carries an {@link ErrorCode};
 * subclasses exist where callers are expected to catch a specific kind.
 *
 * <p>Messages say what failed and, where there is one, what to do about it; the underlying
 * cause is chained rather than repeated in the message.
 */
public class BoxliteException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    public BoxliteException(ErrorCode code, String message) {
        super(message);
        this.code = Objects.requireNonNull(code, "code");
    }

    public BoxliteException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
    }

    /** The kind of failure. */
    public ErrorCode code() {
        return code;
    }
}
