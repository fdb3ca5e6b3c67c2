package io.boxlite.disk.qcow2;

import io.boxlite.StorageException;
import io.boxlite.UnsupportedException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The parsed and validated header of a qcow2 image (QEMU docs/interop/qcow2.txt), with the header
 * extensions this engine understands.
 *
 * {@snippet :
 * try (var image = Qcow2Image.openReadOnly(path)) {
 *     Qcow2Header h = image.header();
 *     System.out.println(h.version() + " " + h.clusterSize() + " " + h.backingFile());
 * }
 * }
 *
 * @param version 2 or 3
 * @param backingFileOffset where the backing file name is stored, 0 if none
 * @param backingFileSize length of the backing file name in bytes
 * @param clusterBits log2 of the cluster size, 9 to 21
 * @param size virtual disk size in bytes
 * @param l1Size number of L1 entries
 * @param l1TableOffset file offset of the L1 table
 * @param refcountTableOffset file offset of the refcount table
 * @param refcountTableClusters clusters the refcount table occupies
 * @param nbSnapshots number of internal snapshots
 * @param snapshotsOffset file offset of the snapshot table
 * @param incompatibleFeatures incompatible feature bits (always 0 for version 2)
 * @param compatibleFeatures compatible feature bits
 * @param autoclearFeatures auto-clear feature bits
 * @param refcountOrder log2 of the refcount width in bits (4 for version 2)
 * @param headerLength header length in bytes (72 for version 2)
 * @param backingFile the backing file name exactly as stored, if any
 * @param backingFormat the backing format from the header extension, if any
 * @param featureNames names from the feature name table, keyed by type * 64 + bit
 */
public record Qcow2Header(
        int version,
        long backingFileOffset,
        int backingFileSize,
        int clusterBits,
        long size,
        int l1Size,
        long l1TableOffset,
        long refcountTableOffset,
        int refcountTableClusters,
        int nbSnapshots,
        long snapshotsOffset,
        long incompatibleFeatures,
        long compatibleFeatures,
        long autoclearFeatures,
        int refcountOrder,
        int headerLength,
        Optional<String> backingFile,
        Optional<String> backingFormat,
        Map<Integer, String> featureNames) {

    static final int MAGIC = 0x514649fb; // "QFI\xfb"
    static final int V2_HEADER_LENGTH = 72;
    static final int V3_HEADER_LENGTH = 104;
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    /** QEMU's limits; larger tables are refused as absurd. */
    static final long MAX_L1_BYTES = 32L << 20;
    static final long MAX_REFTABLE_BYTES = 8L << 20;
    static final int MAX_BACKING_NAME = 1023;

    static final long INCOMPAT_DIRTY = 1L;
    static final long INCOMPAT_CORRUPT = 1L << 1;
    static final long INCOMPAT_DATA_FILE = 1L << 2;
    static final long INCOMPAT_COMPRESSION = 1L << 3;
    static final long INCOMPAT_EXTL2 = 1L << 4;
    static final long INCOMPAT_KNOWN = 0x1fL;

    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;
    static final int EXT_FEATURE_TABLE = 0x6803f857;
    static final int EXT_DATA_FILE = 0x44415441;

    private static final String[] INCOMPAT_NAMES = {
        "dirty bit", "corrupt bit", "external data file", "compression type", "extended L2 entries"
    };

    public Qcow2Header {
        featureNames = Map.copyOf(featureNames);
    }

    /** Cluster size in bytes. */
    public int clusterSize() {
        return 1 << clusterBits;
    }

    /** Refcount width in bits. */
    public int refcountBits() {
        return 1 << refcountOrder;
    }

    /** Whether the dirty bit (refcounts may be stale) is set. */
    public boolean dirty() {
        return (incompatibleFeatures & INCOMPAT_DIRTY) != 0;
    }

    /** Whether QEMU marked the image corrupt. */
    public boolean corrupt() {
        return (incompatibleFeatures & INCOMPAT_CORRUPT) != 0;
    }

    /** Bytes of the header needed before the cluster size is known. */
    static int prefixLength() {
        return V3_HEADER_LENGTH + 8;
    }

    /**
     * Parses and validates the header in {@code cluster0} (the first cluster of the file, or the
     * whole file if shorter) against the file's size.
     *
     * @throws StorageException for a malformed or truncated header
     * @throws UnsupportedException for encryption, unknown incompatible features and the like
     */
    static Qcow2Header parse(Path file, ByteBuffer cluster0, long fileSize) {
        ByteBuffer b = cluster0.duplicate().order(ByteOrder.BIG_ENDIAN);
        int avail = b.remaining();
        if (avail < V2_HEADER_LENGTH) {
            throw corrupt(file, "file is " + fileSize + " bytes, too short for a qcow2 header");
        }
        if (b.getInt(0) != MAGIC) {
            throw corrupt(file, "not a qcow2 image (bad magic)");
        }
        int version = b.getInt(4);
        if (version != 2 && version != 3) {
            throw new UnsupportedException("qcow2 version " + Integer.toUnsignedString(version)
                    + " of " + file + " is not supported (versions 2 and 3 are)");
        }
        long backingOffset = b.getLong(8);
        long backingSize = Integer.toUnsignedLong(b.getInt(16));
        long clusterBits = Integer.toUnsignedLong(b.getInt(20));
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw corrupt(file, "cluster_bits " + clusterBits + " out of range "
                    + MIN_CLUSTER_BITS + ".." + MAX_CLUSTER_BITS);
        }
        int cb = (int) clusterBits;
        long clusterSize = 1L << cb;
        long size = b.getLong(24);
        long crypt = Integer.toUnsignedLong(b.getInt(32));
        long l1Size = Integer.toUnsignedLong(b.getInt(36));
        long l1Offset = b.getLong(40);
        long rtOffset = b.getLong(48);
        long rtClusters = Integer.toUnsignedLong(b.getInt(56));
        long nbSnapshots = Integer.toUnsignedLong(b.getInt(60));
        long snapshotsOffset = b.getLong(64);

        long incompat = 0;
        long compat = 0;
        long autoclear = 0;
        long refcountOrder = 4;
        long headerLength = V2_HEADER_LENGTH;
        int compressionType = 0;
        if (version == 3) {
            if (avail < V3_HEADER_LENGTH) {
                throw corrupt(file, "file is " + fileSize + " bytes, too short for a version 3 header");
            }
            incompat = b.getLong(72);
            compat = b.getLong(80);
            autoclear = b.getLong(88);
            refcountOrder = Integer.toUnsignedLong(b.getInt(96));
            headerLength = Integer.toUnsignedLong(b.getInt(100));
            if (headerLength < V3_HEADER_LENGTH || headerLength % 8 != 0 || headerLength > clusterSize) {
                throw corrupt(file, "header_length " + headerLength
                        + " is invalid (must be a multiple of 8, at least 104, within the first cluster)");
            }
            if (refcountOrder > 6) {
                throw corrupt(file, "refcount_order " + refcountOrder + " exceeds 6");
            }
        }
        if (avail < Math.min(clusterSize, fileSize) || fileSize < headerLength) {
            throw corrupt(file, "file is " + fileSize + " bytes, shorter than its header cluster");
        }
        if (version == 3 && headerLength > V3_HEADER_LENGTH) {
            compressionType = Byte.toUnsignedInt(b.get(V3_HEADER_LENGTH));
        }

        // extensions come first: the feature name table names unknown incompatible bits
        long extEnd = backingOffset != 0 ? Math.min(backingOffset, clusterSize) : clusterSize;
        extEnd = Math.min(extEnd, avail);
        Map<Integer, String> names = new TreeMap<>();
        String backingFormat = null;
        if (version == 3) {
            backingFormat = parseExtensions(file, b, (int) headerLength, (int) extEnd, names);
        }

        long unknown = incompat & ~INCOMPAT_KNOWN;
        if (unknown != 0) {
            int bit = Long.numberOfTrailingZeros(unknown);
            String name = names.getOrDefault(bit, "unnamed");
            throw new UnsupportedException("qcow2 image " + file + " uses unknown incompatible feature bit "
                    + bit + " (" + name + "); it needs a newer qcow2 implementation");
        }
        for (int bit = 2; bit <= 4; bit++) {
            if ((incompat & (1L << bit)) != 0) {
                String what = bit == 3 ? "compression type " + compressionType
                        + (compressionType == 1 ? " (zstd)" : "") : INCOMPAT_NAMES[bit];
                throw new UnsupportedException("qcow2 image " + file + " uses incompatible feature bit "
                        + bit + " (" + what + "), which this engine does not support;"
                        + " convert it with qemu-img convert -O qcow2");
            }
        }
        if (compressionType != 0) {
            throw corrupt(file, "compression_type " + compressionType
                    + " is set without the compression type feature bit");
        }
        if (crypt != 0) {
            throw new UnsupportedException("qcow2 image " + file + " is encrypted (crypt_method " + crypt
                    + "); encrypted images are not supported, decrypt it with qemu-img convert");
        }
        if (size < 0) {
            throw corrupt(file, "virtual size " + Long.toUnsignedString(size) + " is absurd");
        }
        if (size % 512 != 0) {
            throw corrupt(file, "virtual size " + size + " is not a multiple of 512");
        }
        long l2Bits = cb - 3;
        long bytesPerL1 = 1L << (cb + l2Bits);
        long neededL1 = size == 0 ? 0 : (size - 1) / bytesPerL1 + 1;
        if (l1Size * 8 > MAX_L1_BYTES) {
            throw corrupt(file, "L1 table of " + l1Size + " entries is absurdly large");
        }
        if (l1Size < neededL1) {
            throw corrupt(file, "L1 table of " + l1Size + " entries cannot map the virtual size "
                    + size + " (needs " + neededL1 + ")");
        }
        if (l1Size > 0) {
            requireClusterAligned(file, "L1 table offset", l1Offset, clusterSize);
            requireInFile(file, "L1 table", l1Offset, l1Size * 8, fileSize);
        }
        if (rtClusters == 0 || rtClusters * clusterSize > MAX_REFTABLE_BYTES) {
            throw corrupt(file, "refcount table of " + rtClusters + " clusters is "
                    + (rtClusters == 0 ? "missing" : "absurdly large"));
        }
        requireClusterAligned(file, "refcount table offset", rtOffset, clusterSize);
        requireInFile(file, "refcount table", rtOffset, rtClusters * clusterSize, fileSize);
        if (nbSnapshots > 0) {
            requireClusterAligned(file, "snapshot table offset", snapshotsOffset, clusterSize);
            requireInFile(file, "snapshot table", snapshotsOffset, 1, fileSize);
        }

        String backingFile = null;
        if (backingOffset != 0) {
            if (backingSize == 0 || backingSize > MAX_BACKING_NAME) {
                throw corrupt(file, "backing file name length " + backingSize + " is invalid (1..1023)");
            }
            if (backingOffset < headerLength || backingOffset + backingSize > Math.min(clusterSize, avail)) {
                throw corrupt(file, "backing file name at offset " + backingOffset
                        + " lies outside the header cluster");
            }
            backingFile = decode(file, "backing file name", b, (int) backingOffset, (int) backingSize);
            if (backingFile.indexOf('\0') >= 0) {
                throw corrupt(file, "backing file name contains a NUL byte");
            }
        }
        return new Qcow2Header(version, backingOffset, (int) backingSize, cb, size, (int) l1Size, l1Offset,
                rtOffset, (int) rtClusters, (int) nbSnapshots, snapshotsOffset, incompat, compat, autoclear,
                (int) refcountOrder, (int) headerLength, Optional.ofNullable(backingFile),
                Optional.ofNullable(backingFormat), names);
    }

    /** Walks the extension area; returns the backing format if present. */
    private static String parseExtensions(Path file, ByteBuffer b, int start, int end,
            Map<Integer, String> names) {
        String backingFormat = null;
        int pos = start;
        while (true) {
            if (pos + 8 > end) {
                throw corrupt(file, "header extensions run past the header cluster (no end marker)");
            }
            int type = b.getInt(pos);
            long len = Integer.toUnsignedLong(b.getInt(pos + 4));
            if (type == EXT_END) {
                return backingFormat;
            }
            long dataEnd = pos + 8L + len;
            if (dataEnd > end) {
                throw corrupt(file, "header extension 0x" + Integer.toHexString(type) + " of " + len
                        + " bytes runs past the header cluster");
            }
            int data = pos + 8;
            switch (type) {
                case EXT_BACKING_FORMAT -> backingFormat = decode(file, "backing format", b, data, (int) len);
                case EXT_FEATURE_TABLE -> {
                    if (len % 48 != 0) {
                        throw corrupt(file, "feature name table length " + len + " is not a multiple of 48");
                    }
                    for (int e = data; e < dataEnd; e += 48) {
                        int kind = Byte.toUnsignedInt(b.get(e));
                        int bit = Byte.toUnsignedInt(b.get(e + 1));
                        int n = 0;
                        while (n < 46 && b.get(e + 2 + n) != 0) {
                            n++;
                        }
                        if (kind <= 2 && bit < 64) {
                            String name = new String(bytes(b, e + 2, n), StandardCharsets.UTF_8);
                            names.put(kind * 64 + bit, name);
                        }
                    }
                }
                default -> {
                    // unknown extensions are safe to skip (spec)
                }
            }
            pos = (int) ((dataEnd + 7) & ~7L);
        }
    }

    private static byte[] bytes(ByteBuffer b, int at, int len) {
        byte[] out = new byte[len];
        b.get(at, out);
        return out;
    }

    private static String decode(Path file, String what, ByteBuffer b, int at, int len) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes(b, at, len)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw corrupt(file, what + " is not valid UTF-8");
        }
    }

    private static void requireClusterAligned(Path file, String what, long offset, long clusterSize) {
        if (offset <= 0 || offset % clusterSize != 0) {
            throw corrupt(file, what + " " + Long.toUnsignedString(offset)
                    + " is not a non-zero multiple of the cluster size");
        }
    }

    private static void requireInFile(Path file, String what, long offset, long length, long fileSize) {
        if (offset > fileSize || length > fileSize - offset) {
            throw corrupt(file, what + " at offset " + offset + " (" + length
                    + " bytes) lies past the end of the file (" + fileSize + " bytes)");
        }
    }

    static StorageException corrupt(Path file, String what) {
        return new StorageException("Corrupt qcow2 image " + file + ": " + what);
    }
}
