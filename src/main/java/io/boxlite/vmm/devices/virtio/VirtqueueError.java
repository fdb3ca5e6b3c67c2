package io.boxlite.vmm.devices.virtio;

/**
 * What was wrong with a virtqueue or descriptor chain the guest offered. Errors that are
 * {@linkplain #breaksQueue() queue-breaking} leave no valid head to complete, so the device must
 * ask for a reset; the others fail only the one request.
 */
public enum VirtqueueError {
    /** avail.idx moved more than the queue size past the entries already consumed. */
    AVAIL_INDEX_JUMP(true),
    /** The avail ring names a head descriptor index not below the queue size. */
    HEAD_OUT_OF_RANGE(true),
    /** A next field names a descriptor index outside its table. */
    DESCRIPTOR_INDEX_OUT_OF_RANGE(false),
    /** A buffer's address and length do not lie inside guest RAM. */
    BUFFER_OUT_OF_RANGE(false),
    /** More descriptors than the queue (or indirect table) holds: a loop or an oversize chain. */
    CHAIN_TOO_LONG(false),
    /** The buffers add up to more bytes than the queue allows per chain. */
    CHAIN_TOO_LARGE(false),
    /** An indirect descriptor although VIRTIO_F_INDIRECT_DESC was not negotiated. */
    INDIRECT_NOT_NEGOTIATED(false),
    /** A descriptor with both INDIRECT and NEXT set. */
    INDIRECT_WITH_NEXT(false),
    /** An indirect table containing another indirect descriptor. */
    NESTED_INDIRECT(false),
    /** An indirect table whose length is zero, not a multiple of 16, or too long. */
    BAD_INDIRECT_LENGTH(false),
    /** An indirect table that does not lie inside guest RAM. */
    INDIRECT_OUT_OF_RANGE(false),
    /** A device-readable buffer after a device-writable one. */
    READABLE_AFTER_WRITABLE(false);

    private final boolean breaksQueue;

    VirtqueueError(boolean breaksQueue) {
        this.breaksQueue = breaksQueue;
    }

    /** Whether the whole queue is unusable (no head to complete) rather than one request. */
    public boolean breaksQueue() {
        return breaksQueue;
    }
}
