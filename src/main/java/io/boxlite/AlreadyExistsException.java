package io.boxlite;

/**
 * Thrown when something to be created or published is already there.
 * Carries {@link ErrorCode#ALREADY_EXISTS}.
 */
public class AlreadyExistsException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public AlreadyExistsException(String message) {
        super(ErrorCode.ALREADY_EXISTS, message);
    }

    public AlreadyExistsException(String message, Throwable cause) {
        super(ErrorCode.ALREADY_EXISTS, message, cause);
    }
}
