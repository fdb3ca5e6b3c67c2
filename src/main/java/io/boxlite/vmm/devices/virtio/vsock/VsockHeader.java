package io.boxlite.vmm.devices.virtio.vsock;

/**
 * The 44-byte little-endian header of every virtio-vsock packet (virtio 1.x §5.10.6). Port,
 * length, credit fields are unsigned 32-bit values held in {@code int}s.
 */
public record VsockHeader(long srcCid, long dstCid, int srcPort, int dstPort, int len, int type, int op,
                          int flags, int bufAlloc, int fwdCnt) {
    public static final int SIZE = 44;

    public static final int TYPE_STREAM = 1;

    public static final int OP_REQUEST = 1;
    public static final int OP_RESPONSE = 2;
    public static final int OP_RST = 3;
    public static final int OP_SHUTDOWN = 4;
    public static final int OP_RW = 5;
    public static final int OP_CREDIT_UPDATE = 6;
    public static final int OP_CREDIT_REQUEST = 7;

    /** SHUTDOWN flag: the sender will receive no more data. */
    public static final int SHUTDOWN_RCV = 1;
    /** SHUTDOWN flag: the sender will send no more data. */
    public static final int SHUTDOWN_SEND = 2;

    /** Decodes the first 44 bytes of {@code b}; validation is the caller's job. */
    public static VsockHeader decode(byte[] b) {
        if (b.length < SIZE) {
            throw new IllegalArgumentException("vsock header needs 44 bytes, got " + b.length);
        }
        return new VsockHeader(le64(b, 0), le64(b, 8), le32(b, 16), le32(b, 20), le32(b, 24),
                le16(b, 28), le16(b, 30), le32(b, 32), le32(b, 36), le32(b, 40));
    }

    public byte[] encode() {
        byte[] b = new byte[SIZE];
        put64(b, 0, srcCid);
        put64(b, 8, dstCid);
        put32(b, 16, srcPort);
        put32(b, 20, dstPort);
        put32(b, 24, len);
        put16(b, 28, type);
        put16(b, 30, op);
        put32(b, 32, flags);
        put32(b, 36, bufAlloc);
        put32(b, 40, fwdCnt);
        return b;
    }

    /** The operation's name, for messages. */
    public static String opName(int op) {
        return switch (op) {
            case OP_REQUEST -> "REQUEST";
            case OP_RESPONSE -> "RESPONSE";
            case OP_RST -> "RST";
            case OP_SHUTDOWN -> "SHUTDOWN";
            case OP_RW -> "RW";
            case OP_CREDIT_UPDATE -> "CREDIT_UPDATE";
            case OP_CREDIT_REQUEST -> "CREDIT_REQUEST";
            default -> "op " + op;
        };
    }

    @Override
    public String toString() {
        return opName(op) + " " + srcCid + ":" + Integer.toUnsignedString(srcPort) + " -> " + dstCid + ":"
                + Integer.toUnsignedString(dstPort) + " len=" + Integer.toUnsignedString(len) + " type=" + type
                + " flags=" + flags + " buf_alloc=" + Integer.toUnsignedString(bufAlloc) + " fwd_cnt=" + Integer.toUnsignedString(fwdCnt);
    }

    private static int le16(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8;
    }

    private static int le32(byte[] b, int o) {
        return le16(b, o) | le16(b, o + 2) << 16;
    }

    private static long le64(byte[] b, int o) {
        return Integer.toUnsignedLong(le32(b, o)) | (long) le32(b, o + 4) << 32;
    }

    private static void put16(byte[] b, int o, int v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >>> 8);
    }

    private static void put32(byte[] b, int o, int v) {
        put16(b, o, v);
        put16(b, o + 2, v >>> 16);
    }

    private static void put64(byte[] b, int o, long v) {
        put32(b, o, (int) v);
        put32(b, o + 4, (int) (v >>> 32));
    }
}
