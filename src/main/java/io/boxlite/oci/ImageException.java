package io.boxlite.oci;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

/**
 * Thrown when an image cannot be pulled, imported or read: a registry refused or failed, a
 * manifest or blob is malformed, or downloaded bytes do not match their digest. Carries
 * {@link ErrorCode#IMAGE}.
 */
public class ImageException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public ImageException(String message) {
        super(ErrorCode.IMAGE, message);
    }

    public ImageException(String message, Throwable cause) {
        super(ErrorCode.IMAGE, message, cause);
    }
}
