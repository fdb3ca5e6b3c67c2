package io.boxlite.vmm.devices.virtio.block;

/**
 * The virtio-blk configuration space (virtio 1.x §5.2.4), as the device presents it. Fields
 * the device does not offer a feature for still read as what is shown here; the driver ignores
 * them. All values little-endian in {@link #encode()}.
 *
 * @param capacity              size in 512-byte sectors
 * @param segMax                most data segments per request (VIRTIO_BLK_F_SEG_MAX)
 * @param blkSize               logical block size (VIRTIO_BLK_F_BLK_SIZE)
 * @param maxDiscardSectors     largest discard segment, in sectors
 * @param maxDiscardSeg         most segments per discard request
 * @param discardSectorAlignment discard granularity, in sectors
 * @param maxWriteZeroesSectors largest write-zeroes segment, in sectors
 * @param maxWriteZeroesSeg     most segments per write-zeroes request
 * @param writeZeroesMayUnmap   whether write-zeroes with UNMAP may deallocate
 */
public record BlockConfig(long capacity, int segMax, int blkSize, int maxDiscardSectors, int maxDiscardSeg,
                          int discardSectorAlignment, int maxWriteZeroesSectors, int maxWriteZeroesSeg,
                          boolean writeZeroesMayUnmap) {
    /** Bytes of the configuration layout up to and including write_zeroes_may_unmap's padding. */
    public static final int SIZE = 60;

    public byte[] encode() {
        byte[] b = new byte[SIZE];
        putLong(b, 0, capacity);
        putInt(b, 8, 0);                 // size_max: not offered
        putInt(b, 12, segMax);
        // 16..19 geometry: not offered
        putInt(b, 20, blkSize);
        // 24..31 topology: not offered
        b[32] = 0;                       // writeback: not offered
        putShort(b, 34, 1);              // num_queues
        putInt(b, 36, maxDiscardSectors);
        putInt(b, 40, maxDiscardSeg);
        putInt(b, 44, discardSectorAlignment);
        putInt(b, 48, maxWriteZeroesSectors);
        putInt(b, 52, maxWriteZeroesSeg);
        b[56] = (byte) (writeZeroesMayUnmap ? 1 : 0);
        return b;
    }

    private static void putLong(byte[] b, int off, long v) {
        putInt(b, off, (int) v);
        putInt(b, off + 4, (int) (v >>> 32));
    }

    private static void putInt(byte[] b, int off, int v) {
        putShort(b, off, v);
        putShort(b, off + 2, v >>> 16);
    }

    private static void putShort(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }
}
