package io.boxlite.vmm.devices.virtio;

import java.util.Objects;

/**
 * The guest offered a malformed ring or chain. Checked on purpose: device code must decide,
 * per request, between failing the request ({@link VirtqueueError#breaksQueue()} false) and
 * asking for a reset. Never propagates out of a device worker.
 */
public final class VirtqueueException extends Exception {
    private static final long serialVersionUID = 1L;

    private final VirtqueueError error;

    public VirtqueueException(VirtqueueError error, String message) {
        super(message);
        this.error = Objects.requireNonNull(error);
    }

    public VirtqueueError error() {
        return error;
    }
}
