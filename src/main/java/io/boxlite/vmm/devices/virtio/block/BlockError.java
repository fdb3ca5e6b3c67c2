package io.boxlite.vmm.devices.virtio.block;

/** Why a virtio-blk request was refused, and the status byte the driver gets for it. */
public enum BlockError {
    /** The descriptor chain itself is invalid (see the virtqueue error); nothing is written. */
    BAD_CHAIN(BlockRequest.S_IOERR),
    /** No device-writable byte for the status: the request cannot even be answered. */
    NO_STATUS_BYTE(BlockRequest.S_IOERR),
    /** Fewer than 16 readable bytes for the request header. */
    HEADER_TOO_SHORT(BlockRequest.S_IOERR),
    /** Data buffers in the wrong direction for the request type. */
    WRONG_DIRECTION(BlockRequest.S_IOERR),
    /** Data length is not a multiple of 512. */
    UNALIGNED_LENGTH(BlockRequest.S_IOERR),
    /** The sector range reaches past the disk's capacity. */
    OUT_OF_RANGE(BlockRequest.S_IOERR),
    /** A write, discard or write-zeroes to a read-only disk. */
    READ_ONLY(BlockRequest.S_IOERR),
    /** A request type this device does not implement. */
    UNSUPPORTED_TYPE(BlockRequest.S_UNSUPP),
    /** A discard/write-zeroes request whose feature was not negotiated. */
    NOT_NEGOTIATED(BlockRequest.S_UNSUPP),
    /** Discard/write-zeroes segments: none, a partial one, or more than the device allows. */
    BAD_SEGMENTS(BlockRequest.S_IOERR),
    /** A discard/write-zeroes segment longer than the device's maximum. */
    SEGMENT_TOO_LARGE(BlockRequest.S_IOERR),
    /** Unknown segment flags, or UNMAP on a discard. */
    BAD_FLAGS(BlockRequest.S_UNSUPP),
    /** The back end failed (an I/O error on the host). */
    IO_FAILED(BlockRequest.S_IOERR);

    private final int status;

    BlockError(int status) {
        this.status = status;
    }

    /** The virtio-blk status byte reported for this error. */
    public int status() {
        return status;
    }
}
