package io.boxlite.vmm.loader;

import io.boxlite.InvalidArgumentException;

/** A kernel image is malformed or cannot be booted by this VMM; the message says why and what to use. */
public final class KernelImageException extends InvalidArgumentException {
    private static final long serialVersionUID = 1L;

    public KernelImageException(String message) {
        super(message);
    }
}
