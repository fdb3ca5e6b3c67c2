package io.boxlite;

/**
 * Thrown when a named box, image or other entity does not exist.
 * Carries {@link ErrorCode#NOT_FOUND}; open for narrower kinds such as a missing box or image.
 */
public class NotFoundException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public NotFoundException(String message) {
        super(ErrorCode.NOT_FOUND, message);
    }

    public NotFoundException(String message, Throwable cause) {
        super(ErrorCode.NOT_FOUND, message, cause);
    }
}
