package io.boxlite.vmm.memory;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

/**
 * A guest-supplied address or length does not lie inside guest RAM. Device code catches this to
 * fail the one request that carried the bad address; it never takes the VMM down.
 */
public final class GuestMemoryException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    public GuestMemoryException(String message) {
        super(ErrorCode.INTERNAL, message);
    }
}
