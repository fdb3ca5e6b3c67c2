package io.boxlite;

/**
 * Thrown when no usable engine can run a guest, e.g. {@code /dev/kvm} is missing or not accessible.
 * Carries {@link ErrorCode#ENGINE}.
 */
public class EngineUnavailableException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public EngineUnavailableException(String message) {
        super(ErrorCode.ENGINE, message);
    }

    public EngineUnavailableException(String message, Throwable cause) {
        super(ErrorCode.ENGINE, message, cause);
    }
}
