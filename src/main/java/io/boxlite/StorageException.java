package io.boxlite;

/**
 * Thrown when the home directory or another on-disk store cannot be read, written or created.
 * Carries {@link ErrorCode#STORAGE}.
 */
public class StorageException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public StorageException(String message) {
        super(ErrorCode.STORAGE, message);
    }

    public StorageException(String message, Throwable cause) {
        super(ErrorCode.STORAGE, message, cause);
    }
}
