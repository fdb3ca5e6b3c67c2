package io.boxlite.vmm.devices.virtio.block;

import io.boxlite.vmm.devices.virtio.Descriptor;
import io.boxlite.vmm.devices.virtio.DescriptorChain;
import io.boxlite.vmm.devices.virtio.GuestBuffers;
import io.boxlite.vmm.devices.virtio.VirtqueueException;
import io.boxlite.vmm.memory.GuestAddress;

import java.util.ArrayList;
import java.util.List;

/**
 * A virtio-blk request (virtio 1.x §5.2.6), parsed from a descriptor chain into a typed value, or
 * refused with a typed {@link BlockError}. The chain is read as one byte range whatever the
 * guest's framing: the 16-byte header starts the readable part, the status byte ends the
 * writable part. Header and segments are copied once and the copies validated.
 */
public sealed interface BlockRequest {
    int T_IN = 0;
    int T_OUT = 1;
    int T_FLUSH = 4;
    int T_GET_ID = 8;
    int T_DISCARD = 11;
    int T_WRITE_ZEROES = 13;

    int S_OK = 0;
    int S_IOERR = 1;
    int S_UNSUPP = 2;

    int SECTOR = 512;
    int HEADER = 16;
    int SEGMENT = 16;
    int SEGMENT_F_UNMAP = 1;
    int ID_BYTES = 20;

    /** Read {@code data.length()} bytes from {@code sector} into the guest. */
    record Read(long sector, GuestBuffers data) implements BlockRequest {
    }

    /** Write the guest's {@code data} at {@code sector}. */
    record Write(long sector, GuestBuffers data) implements BlockRequest {
    }

    record Flush() implements BlockRequest {
    }

    /** Write the device serial (up to 20 bytes) into {@code data}. */
    record GetId(GuestBuffers data) implements BlockRequest {
    }

    record Discard(List<Segment> segments) implements BlockRequest {
    }

    record WriteZeroes(List<Segment> segments) implements BlockRequest {
    }

    /** One discard/write-zeroes range, validated against the capacity. */
    record Segment(long sector, long sectors, boolean unmap) {
    }

    /** What the parser needs to know about the device. */
    record Limits(long capacitySectors, boolean readOnly, boolean discard, boolean writeZeroes,
                  int maxDiscardSectors, int maxDiscardSeg, int maxWriteZeroesSectors, int maxWriteZeroesSeg) {
    }

    /** The outcome of parsing one chain. */
    sealed interface Parsed {
        int head();
    }

    /** A valid request; {@code status} is where the status byte goes. */
    record Valid(int head, BlockRequest request, GuestAddress status) implements Parsed {
    }

    /** A refused request; {@code status} is null when there is no byte to answer in. */
    record Invalid(int head, BlockError error, String detail, GuestAddress status) implements Parsed {
    }

    /** Walks and parses the chain; never throws for anything the guest wrote. */
    static Parsed parse(DescriptorChain chain, Limits limits) {
        int head = chain.headIndex();
        GuestBuffers.Split split;
        try {
            split = chain.split();
        } catch (VirtqueueException e) {
            return new Invalid(head, BlockError.BAD_CHAIN, e.getMessage(), null);
        }
        GuestAddress status = lastByte(split.writable());
        if (status == null) {
            return new Invalid(head, BlockError.NO_STATUS_BYTE, "no device-writable byte for the status", null);
        }
        GuestBuffers readable = split.readable();
        if (readable.length() < HEADER) {
            return new Invalid(head, BlockError.HEADER_TOO_SHORT, "request header has " + readable.length() + " of 16 bytes", status);
        }
        byte[] h = readable.read(0, HEADER);
        int type = le32(h, 0);
        long sector = le64(h, 8);
        long inLen = split.writable().length() - 1;
        long outLen = readable.length() - HEADER;
        return switch (type) {
            case T_IN -> dataRequest(head, status, limits, sector, inLen, outLen == 0,
                    () -> new Read(sector, sub(split.writable(), inLen)));
            case T_OUT -> limits.readOnly()
                    ? new Invalid(head, BlockError.READ_ONLY, "write to a read-only disk", status)
                    : dataRequest(head, status, limits, sector, outLen, inLen == 0,
                    () -> new Write(sector, suffix(readable)));
            case T_FLUSH -> new Valid(head, new Flush(), status);
            case T_GET_ID -> inLen == 0
                    ? new Invalid(head, BlockError.WRONG_DIRECTION, "GET_ID without a buffer for the id", status)
                    : new Valid(head, new GetId(sub(split.writable(), inLen)), status);
            case T_DISCARD -> segments(head, status, limits, readable, inLen, false);
            case T_WRITE_ZEROES -> segments(head, status, limits, readable, inLen, true);
            default -> new Invalid(head, BlockError.UNSUPPORTED_TYPE, "request type " + Integer.toUnsignedString(type), status);
        };
    }

    private static Parsed dataRequest(int head, GuestAddress status, Limits limits, long sector, long length,
                                      boolean directionOk, java.util.function.Supplier<BlockRequest> make) {
        if (!directionOk) {
            return new Invalid(head, BlockError.WRONG_DIRECTION, "data buffers in both directions", status);
        }
        if (length % SECTOR != 0) {
            return new Invalid(head, BlockError.UNALIGNED_LENGTH, "data length " + length + " is not a multiple of 512", status);
        }
        if (!inRange(sector, length / SECTOR, limits.capacitySectors())) {
            return new Invalid(head, BlockError.OUT_OF_RANGE, "sectors " + Long.toUnsignedString(sector) + "+" + length / SECTOR
                    + " beyond capacity " + limits.capacitySectors(), status);
        }
        return new Valid(head, make.get(), status);
    }

    private static Parsed segments(int head, GuestAddress status, Limits limits, GuestBuffers readable, long inLen, boolean zeroes) {
        String name = zeroes ? "write-zeroes" : "discard";
        if (!(zeroes ? limits.writeZeroes() : limits.discard())) {
            return new Invalid(head, BlockError.NOT_NEGOTIATED, name + " was not negotiated", status);
        }
        if (limits.readOnly()) {
            return new Invalid(head, BlockError.READ_ONLY, name + " on a read-only disk", status);
        }
        long payload = readable.length() - HEADER;
        int maxSeg = zeroes ? limits.maxWriteZeroesSeg() : limits.maxDiscardSeg();
        long maxSectors = zeroes ? limits.maxWriteZeroesSectors() : limits.maxDiscardSectors();
        if (inLen != 0 || payload == 0 || payload % SEGMENT != 0 || payload / SEGMENT > maxSeg) {
            return new Invalid(head, BlockError.BAD_SEGMENTS, name + " payload of " + payload
                    + " bytes is not 1.." + maxSeg + " segments of 16 bytes", status);
        }
        byte[] raw = readable.read(HEADER, (int) payload);
        List<Segment> out = new ArrayList<>();
        for (int off = 0; off < raw.length; off += SEGMENT) {
            long sector = le64(raw, off);
            long sectors = Integer.toUnsignedLong(le32(raw, off + 8));
            int flags = le32(raw, off + 12);
            boolean unmap = (flags & SEGMENT_F_UNMAP) != 0;
            if ((flags & ~SEGMENT_F_UNMAP) != 0 || (unmap && !zeroes)) {
                return new Invalid(head, BlockError.BAD_FLAGS, name + " segment flags 0x" + Integer.toHexString(flags), status);
            }
            if (sectors == 0 || sectors > maxSectors) {
                return new Invalid(head, BlockError.SEGMENT_TOO_LARGE, name + " segment of " + sectors
                        + " sectors is outside 1.." + maxSectors, status);
            }
            if (!inRange(sector, sectors, limits.capacitySectors())) {
                return new Invalid(head, BlockError.OUT_OF_RANGE, name + " sectors " + Long.toUnsignedString(sector) + "+" + sectors
                        + " beyond capacity " + limits.capacitySectors(), status);
            }
            out.add(new Segment(sector, sectors, unmap));
        }
        return new Valid(head, zeroes ? new WriteZeroes(List.copyOf(out)) : new Discard(List.copyOf(out)), status);
    }

    /** Whether [sector, sector + count) fits in capacity, with guest values treated as unsigned. */
    private static boolean inRange(long sector, long count, long capacity) {
        return sector >= 0 && count >= 0 && sector <= capacity && count <= capacity - sector;
    }

    private static GuestAddress lastByte(GuestBuffers writable) {
        List<Descriptor> ds = writable.descriptors();
        for (int i = ds.size() - 1; i >= 0; i--) {
            Descriptor d = ds.get(i);
            if (d.length() > 0) {
                return d.address().plus(d.length() - 1L);
            }
        }
        return null;
    }

    private static GuestBuffers sub(GuestBuffers buffers, long length) {
        return buffers.range(0, length);
    }

    private static GuestBuffers suffix(GuestBuffers readable) {
        return readable.range(HEADER, readable.length() - HEADER);
    }

    private static int le32(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
    }

    private static long le64(byte[] b, int off) {
        return Integer.toUnsignedLong(le32(b, off)) | ((long) le32(b, off + 4) << 32);
    }
}
