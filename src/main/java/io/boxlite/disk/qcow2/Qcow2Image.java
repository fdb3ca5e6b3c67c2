package io.boxlite.disk.qcow2;

import io.boxlite.InvalidStateException;
import io.boxlite.NotFoundException;
import io.boxlite.StorageException;
import io.boxlite.UnsupportedException;
import io.boxlite.disk.DiskImage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A qcow2 disk image (QEMU docs/interop/qcow2.txt): reads versions 2 and 3, writes version 3.
 *
 * {@snippet :
 * Qcow2Image.createOverlay(box.resolve("disk.qcow2"), "../../images/base.ext4", BackingFormat.RAW, 8L << 30);
 * try (Qcow2Image disk = Qcow2Image.open(box.resolve("disk.qcow2"))) {
 *     disk.write(0, ByteBuffer.wrap(bootSector));
 *     disk.flush();
 * }
 * }
 *
 * <p><b>Supported:</b> L1/L2 mapping, refcounts of any width, cluster sizes 512 B to 2 MiB,
 * backing files (raw or qcow2, read-only, chains up to {@value #MAX_CHAIN} deep) with
 * copy-on-write of partial clusters, zero clusters, deflate-compressed clusters (read; a write
 * to one re-allocates it uncompressed), discard, write-zeroes, reuse of freed clusters. Internal
 * snapshots, encryption, external data files, extended L2 entries and zstd are refused with an
 * {@link UnsupportedException}; images with snapshots and version 2 images open read-only.
 *
 * <p><b>Crash consistency.</b> Metadata is cached and written back on {@link #flush()}, on
 * {@link #close()} and when too many tables are dirty, always in this order, each step ending
 * with fdatasync: (1) new data clusters (written when the guest writes) and refcount blocks
 * holding increments, (2) refcount table entries of new blocks, (3) L2 tables, (4) L1 entries,
 * then (5) the refcount decrements of clusters that (3) stopped referencing. So on disk every
 * reference always points at written data with a refcount of at least one; a kill or power loss
 * at any point can leak clusters but never leaves a reference to a free cluster. The header's
 * dirty bit is never needed. Writes not yet flushed may be lost, as on any disk with a
 * write-back cache.
 *
 * <p><b>Threads.</b> Reads and overwrites of allocated clusters run concurrently under a shared
 * lock; allocation, discard, write-zeroes and write-back take it exclusively. A writable open
 * locks the file against other writers (ours or QEMU's).
 *
 * <p>{@code read} and {@code write} advance the buffer's position to its limit.
 */
public final class Qcow2Image implements DiskImage, Backing {
    /** Longest backing chain followed; deeper chains are refused as a likely loop or attack. */
    public static final int MAX_CHAIN = 16;
    /** Default cluster size, as qemu-img uses. */
    public static final int DEFAULT_CLUSTER_SIZE = 64 * 1024;

    private static final System.Logger LOG = System.getLogger(Qcow2Image.class.getName());
    private static final int L2_CACHE_BYTES = 8 << 20;
    private static final int REFCOUNT_CACHE_BYTES = 1 << 20;
    private static final int MAX_RUN_CLUSTERS = 256;
    private static final int MAX_PENDING_FREES = 4096;
    private static final byte[] ZEROS = new byte[64 * 1024];

    private final Path path;
    private final ImageFile file;
    private final Qcow2Header header;
    private final boolean readOnly;
    private final Backing backing;
    private final int clusterBits;
    private final long clusterSize;
    private final int l2Bits;
    private final long[] l1;
    private final BitSet dirtyL1 = new BitSet();
    private final TableCache<L2Table> l2Cache;
    private final MetadataMap meta;
    private final Refcounts refcounts;
    private final List<long[]> pendingFrees = new ArrayList<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile boolean closed;
    private volatile DecompressedCluster lastDecompressed;

    private record DecompressedCluster(long hostOffset, byte[] data) {}

    private Qcow2Image(Path path, ImageFile file, Qcow2Header header, boolean readOnly, Backing backing,
            long[] l1, MetadataMap meta, Refcounts refcounts) {
        this.path = path;
        this.file = file;
        this.header = header;
        this.readOnly = readOnly;
        this.backing = backing;
        this.clusterBits = header.clusterBits();
        this.clusterSize = header.clusterSize();
        this.l2Bits = clusterBits - 3;
        this.l1 = l1;
        this.meta = meta;
        this.refcounts = refcounts;
        this.l2Cache = new TableCache<>(Math.max(16, L2_CACHE_BYTES >> clusterBits));
    }

    /**
     * Opens {@code path} for reading and writing. Its backing files open read-only.
     *
     * @throws NotFoundException if the image or a backing file does not exist
     * @throws StorageException if the image is malformed, marked dirty or corrupt, or cannot be read
     * @throws UnsupportedException for features this engine lacks (see the class comment)
     * @throws InvalidStateException if another writer holds the image
     */
    public static Qcow2Image open(Path path) {
        return open(path, false, 0, new HashSet<>());
    }

    /** Opens {@code path} read-only; writes, discards and write-zeroes are then refused. */
    public static Qcow2Image openReadOnly(Path path) {
        return open(path, true, 0, new HashSet<>());
    }

    /**
     * Creates an empty image of {@code virtualSize} bytes (a multiple of 512) with clusters of
     * {@code clusterSize} bytes (a power of two from 512 to 2 MiB). The file is staged and renamed
     * into place, so it either exists complete or not at all.
     *
     * @throws io.boxlite.AlreadyExistsException if {@code path} exists
     * @throws io.boxlite.InvalidArgumentException for a bad size or cluster size
     */
    public static void create(Path path, long virtualSize, int clusterSize) {
        Qcow2Creator.create(path, virtualSize, clusterSize, null, null);
    }

    /**
     * Creates a copy-on-write overlay of {@code backingPath}, which is recorded exactly as given
     * (a relative path is resolved against the overlay's directory, as QEMU does, so a directory
     * tree holding both can move) together with its format.
     *
     * @param virtualSize the overlay's size; may exceed the backing file's (reads beyond it are zeros)
     * @throws NotFoundException if the backing file does not exist
     */
    public static void createOverlay(Path path, String backingPath, BackingFormat backingFormat,
            long virtualSize) {
        Qcow2Creator.createOverlay(path, backingPath, backingFormat, virtualSize, DEFAULT_CLUSTER_SIZE);
    }

    /** Like {@link #createOverlay(Path, String, BackingFormat, long)} with the backing file's size. */
    public static void createOverlay(Path path, String backingPath, BackingFormat backingFormat) {
        Qcow2Creator.createOverlay(path, backingPath, backingFormat, -1, DEFAULT_CLUSTER_SIZE);
    }

    static Qcow2Image open(Path path, boolean readOnly, int depth, Set<Path> chain) {
        Objects.requireNonNull(path, "path");
        ImageFile file = ImageFile.open(path, !readOnly);
        Backing backing = null;
        try {
            chain.add(realPath(path, path));
            long fileSize = file.size();
            Qcow2Header header = Qcow2Header.parse(path, readCluster0(file, fileSize), fileSize);
            if (!readOnly) {
                requireWritable(path, header);
            }
            long[] l1 = readL1(file, header);
            MetadataMap meta = null;
            Refcounts refcounts = null;
            if (!readOnly) {
                meta = new MetadataMap();
                meta.add(0, 1, "header");
                long l1Clusters = ((long) header.l1Size() * 8 + header.clusterSize() - 1) >>> header.clusterBits();
                String clash = meta.add(header.l1TableOffset() >>> header.clusterBits(), l1Clusters, "L1 table");
                if (clash != null) {
                    throw Qcow2Header.corrupt(path, "the L1 table overlaps the " + clash);
                }
                refcounts = Refcounts.load(file, header, meta, REFCOUNT_CACHE_BYTES);
            }
            validateL1(path, header, l1, fileSize, meta, refcounts);
            backing = openBacking(path, header, depth, chain);
            Qcow2Image image = new Qcow2Image(path, file, header, readOnly, backing, l1, meta, refcounts);
            if (!readOnly) {
                image.prepareForWriting();
            }
            return image;
        } catch (RuntimeException e) {
            if (backing != null) {
                backing.close();
            }
            file.close();
            throw e;
        }
    }

    private static ByteBuffer readCluster0(ImageFile file, long fileSize) {
        ByteBuffer prefix = ByteBuffer.allocate((int) Math.min(fileSize, Qcow2Header.prefixLength()));
        file.readFully(0, prefix);
        prefix.flip();
        int length = prefix.remaining();
        if (length >= 24) {
            int bits = prefix.getInt(20);
            if (bits >= Qcow2Header.MIN_CLUSTER_BITS && bits <= Qcow2Header.MAX_CLUSTER_BITS) {
                length = (int) Math.min(fileSize, 1L << bits);
            }
        }
        ByteBuffer cluster0 = ByteBuffer.allocate(length);
        file.readFully(0, cluster0);
        return cluster0.flip();
    }

    private static void requireWritable(Path path, Qcow2Header h) {
        if (h.version() < 3) {
            throw new UnsupportedException("qcow2 version 2 image " + path + " can only be opened read-only;"
                    + " upgrade it with: qemu-img amend -o compat=1.1 " + path);
        }
        if (h.corrupt()) {
            throw new StorageException("qcow2 image " + path + " is marked corrupt;"
                    + " repair it with: qemu-img check -r all " + path);
        }
        if (h.dirty()) {
            throw new StorageException("qcow2 image " + path + " has the dirty bit set (refcounts may be stale);"
                    + " repair it with: qemu-img check -r all " + path);
        }
        if (h.nbSnapshots() > 0) {
            throw new UnsupportedException("qcow2 image " + path + " has " + h.nbSnapshots()
                    + " internal snapshots, which this engine cannot write around; open it read-only"
                    + " or delete them with qemu-img snapshot -d");
        }
    }

    private static long[] readL1(ImageFile file, Qcow2Header h) {
        long[] l1 = new long[h.l1Size()];
        if (l1.length == 0) {
            return l1;
        }
        ByteBuffer buf = ByteBuffer.allocate(l1.length * 8).order(ByteOrder.BIG_ENDIAN);
        file.readFully(h.l1TableOffset(), buf);
        buf.flip().asLongBuffer().get(l1);
        return l1;
    }

    /**
     * Checks every L1 entry: aligned, within the file, no reserved bits; for writing also that no
     * L2 table overlaps other metadata or is shared.
     */
    private static void validateL1(Path path, Qcow2Header h, long[] l1, long fileSize, MetadataMap meta,
            Refcounts refcounts) {
        long cs = h.clusterSize();
        for (int i = 0; i < l1.length; i++) {
            long e = l1[i];
            long off = e & Entries.OFFSET_MASK;
            if ((e & Entries.L1_RESERVED) != 0) {
                throw Qcow2Header.corrupt(path, "L1 entry " + i + " (0x" + Long.toHexString(e)
                        + ") has reserved bits set");
            }
            if (off == 0) {
                continue;
            }
            if (off % cs != 0) {
                throw Qcow2Header.corrupt(path, "L1 entry " + i + " points to unaligned offset " + off);
            }
            if (off > fileSize - cs) {
                throw Qcow2Header.corrupt(path, "L1 entry " + i + " points to an L2 table at offset " + off
                        + " past the end of the file (" + fileSize + " bytes)");
            }
            if (meta != null) {
                String clash = meta.add(off >>> h.clusterBits(), 1, "L2 table " + i);
                if (clash != null) {
                    throw Qcow2Header.corrupt(path, "L2 table " + i + " at offset " + off + " overlaps the "
                            + clash);
                }
                if ((e & Entries.COPIED) == 0) {
                    long rc = refcounts.refcount(off >>> h.clusterBits());
                    if (rc != 1) {
                        throw new UnsupportedException("qcow2 image " + path + ": L2 table " + i
                                + " is shared (refcount " + rc + "); shared tables are not writable here");
                    }
                    l1[i] = e | Entries.COPIED; // written back with the next L1 update
                }
            }
        }
    }

    private static Backing openBacking(Path path, Qcow2Header h, int depth, Set<Path> chain) {
        if (h.backingFile().isEmpty()) {
            return null;
        }
        String name = h.backingFile().get();
        if (depth + 1 > MAX_CHAIN) {
            throw new StorageException("Backing chain of " + path + " is deeper than " + MAX_CHAIN
                    + " images; flatten it with qemu-img convert");
        }
        int colon = name.indexOf(':');
        int slash = name.indexOf('/');
        if (colon >= 0 && (slash < 0 || colon < slash)) {
            throw new UnsupportedException("Backing file '" + name + "' of " + path
                    + " uses a protocol; only local files are supported");
        }
        Path resolved = resolveBacking(path, name);
        Path real = realPath(resolved, path);
        if (!chain.add(real)) {
            throw Qcow2Header.corrupt(path, "backing chain loops back to " + real);
        }
        BackingFormat format = h.backingFormat().map(BackingFormat::ofQemuName).orElseGet(() -> probe(resolved));
        return switch (format) {
            case QCOW2 -> open(resolved, true, depth + 1, chain);
            case RAW -> new RawBacking(ImageFile.open(resolved, false));
        };
    }

    /** A relative backing name is relative to the directory of the image naming it (QEMU's rule). */
    static Path resolveBacking(Path image, String name) {
        Path p = Path.of(name);
        if (p.isAbsolute()) {
            return p;
        }
        Path dir = image.toAbsolutePath().getParent();
        return dir == null ? p : dir.resolve(p);
    }

    private static Path realPath(Path p, Path image) {
        try {
            return p.toRealPath();
        } catch (NoSuchFileException e) {
            throw new NotFoundException("Backing file " + p + " of " + image + " does not exist", e);
        } catch (IOException e) {
            throw new StorageException("Cannot resolve " + p + ": " + e.getMessage(), e);
        }
    }

    private static BackingFormat probe(Path backing) {
        try (ImageFile f = ImageFile.open(backing, false)) {
            ByteBuffer magic = ByteBuffer.allocate(4);
            f.readOrZero(0, magic);
            BackingFormat format = magic.getInt(0) == Qcow2Header.MAGIC ? BackingFormat.QCOW2 : BackingFormat.RAW;
            LOG.log(System.Logger.Level.WARNING, "Backing file {0} has no recorded format; probed {1}",
                    backing, format.qemuName());
            return format;
        }
    }

    /** Clears auto-clear feature bits we do not maintain (spec: required before writing). */
    private void prepareForWriting() {
        if (header.autoclearFeatures() != 0) {
            file.writeFully(88, ByteBuffer.allocate(8));
            file.sync();
        }
    }

    /** The image's header as read at open. */
    public Qcow2Header header() {
        return header;
    }

    /** The image file. */
    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return header.size();
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        checkRange(offset, dst.remaining());
        lock.readLock().lock();
        try {
            ensureOpen();
            readLocked(offset, dst);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Reads a guest's scatter list: buffers whose bytes lie in this file's data clusters, one
     * after the other on the host, go out as one {@code preadv} (ImageFile); anything else (zero,
     * unallocated, compressed clusters, or a run broken on the host) is read as by {@link #read}.
     */
    @Override
    public void readv(long offset, ByteBuffer[] dsts) {
        long total = 0;
        for (ByteBuffer b : dsts) {
            total += b.remaining();
        }
        checkRange(offset, total);
        lock.readLock().lock();
        try {
            ensureOpen();
            List<ByteBuffer> run = new ArrayList<>();
            long runHost = -1;
            long runEnd = -1;
            long pos = offset;
            for (ByteBuffer b : dsts) {
                int n = b.remaining();
                long host = n == 0 ? -1 : hostRun(pos, n);
                if (host >= 0 && host == runEnd) {
                    run.add(b);
                    runEnd += n;
                } else {
                    if (!run.isEmpty()) {
                        file.readvOrZero(runHost, run);
                        run.clear();
                    }
                    if (host >= 0) {
                        run.add(b);
                        runHost = host;
                        runEnd = host + n;
                    } else {
                        readLocked(pos, b);
                        runEnd = -1;
                    }
                }
                pos += n;
            }
            if (!run.isEmpty()) {
                file.readvOrZero(runHost, run);
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Writes a guest's scatter list: the leading buffers that fall in clusters this image owns
     * (allocated, not shared) go out in place, grouped by host contiguity into one {@code pwritev}
     * each; from the first buffer that needs an allocation or a copy-on-write on, the rest goes
     * through {@link #write} one by one.
     */
    @Override
    public void writev(long offset, ByteBuffer[] srcs) {
        long total = 0;
        for (ByteBuffer b : srcs) {
            total += b.remaining();
        }
        checkRange(offset, total);
        checkWritable();
        long pos = offset;
        int next = 0;
        lock.readLock().lock();
        try {
            ensureOpen();
            List<ByteBuffer> run = new ArrayList<>();
            long runHost = -1;
            long runEnd = -1;
            for (; next < srcs.length; next++) {
                int n = srcs[next].remaining();
                if (n == 0) {
                    continue;
                }
                long host = inPlaceRun(pos, n);
                if (host < 0) {
                    break;
                }
                if (host != runEnd) {
                    if (!run.isEmpty()) {
                        file.writevFully(runHost, run);
                        run.clear();
                    }
                    runHost = host;
                    runEnd = host;
                }
                run.add(srcs[next]);
                runEnd += n;
                pos += n;
            }
            if (!run.isEmpty()) {
                file.writevFully(runHost, run);
            }
        } finally {
            lock.readLock().unlock();
        }
        for (; next < srcs.length; next++) {
            int n = srcs[next].remaining();
            write(pos, srcs[next]);
            pos += n;
        }
    }

    /** Where {@code [pos, pos + n)} lies in this file if all of it is in-place data clusters contiguous on the host, else -1. */
    private long inPlaceRun(long pos, int n) {
        if (!(lookup(pos) instanceof ClusterMapping.Data d) || !d.copied()) {
            return -1;
        }
        guardData(pos, d.hostOffset());
        int inCluster = (int) (pos & (clusterSize - 1));
        int first = (int) Math.min(n, clusterSize - inCluster);
        return first == n || contiguousRun(pos, d.hostOffset(), first, n, true) == n ? d.hostOffset() + inCluster : -1;
    }

    /** Where {@code [pos, pos + n)} lies in this file if all of it is data clusters contiguous on the host, else -1. */
    private long hostRun(long pos, int n) {
        if (!(lookup(pos) instanceof ClusterMapping.Data d)) {
            return -1;
        }
        int inCluster = (int) (pos & (clusterSize - 1));
        int first = (int) Math.min(n, clusterSize - inCluster);
        return first == n || contiguousRun(pos, d.hostOffset(), first, n, false) == n ? d.hostOffset() + inCluster : -1;
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        checkRange(offset, src.remaining());
        checkWritable();
        long pos = offset;
        lock.readLock().lock();
        try {
            ensureOpen();
            pos = writeInPlace(pos, src);
        } finally {
            lock.readLock().unlock();
        }
        if (!src.hasRemaining()) {
            return;
        }
        lock.writeLock().lock();
        try {
            ensureOpen();
            writeAllocating(pos, src);
            maybeWriteBack();
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void flush() {
        if (readOnly) {
            ensureOpen();
            return;
        }
        lock.writeLock().lock();
        try {
            ensureOpen();
            writeBackMetadata();
            file.sync();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Deallocates the whole clusters inside the range: they read as zeros afterwards (with a
     * backing file they get the zero flag, so the backing data stays hidden). Partial clusters at
     * the ends are left as they are.
     */
    @Override
    public void discard(long offset, long length) {
        checkRange(offset, length);
        checkWritable();
        lock.writeLock().lock();
        try {
            ensureOpen();
            long end = offset + length;
            for (long c = roundUp(offset); c + clusterSize <= clusterEnd(end); c += clusterSize) {
                ClusterMapping m = lookup(c);
                if (m instanceof ClusterMapping.Zero z && z.hostOffset() == 0
                        || m instanceof ClusterMapping.Unallocated && backing == null) {
                    continue; // reads as zeros and holds nothing already
                }
                // with a backing file an unallocated entry would show the old data again
                setL2(c, backing != null ? Entries.ZERO : 0);
                release(m);
            }
            maybeWriteBack();
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) {
        checkRange(offset, length);
        checkWritable();
        lock.writeLock().lock();
        try {
            ensureOpen();
            long end = offset + length;
            long fullStart = roundUp(offset);
            long fullEnd = clusterEnd(end);
            if (fullEnd <= fullStart) {
                writeZeroBytes(offset, end);
            } else {
                writeZeroBytes(offset, fullStart);
                for (long c = fullStart; c < fullEnd; c += clusterSize) {
                    zeroCluster(c, mayUnmap);
                }
                writeZeroBytes(fullEnd, end);
            }
            maybeWriteBack();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void zeroCluster(long c, boolean mayUnmap) {
        ClusterMapping m = lookup(c);
        if (!mayUnmap && m instanceof ClusterMapping.Data d && d.copied()) {
            setL2(c, d.hostOffset() | Entries.COPIED | Entries.ZERO); // keeps the allocation
        } else if (m instanceof ClusterMapping.Zero z && (z.hostOffset() == 0 || !mayUnmap)) {
            return;
        } else {
            setL2(c, Entries.ZERO);
            release(m);
        }
    }

    private void writeZeroBytes(long from, long to) {
        long pos = from;
        while (pos < to) {
            int n = (int) Math.min(to - pos, ZEROS.length);
            writeAllocating(pos, ByteBuffer.wrap(ZEROS, 0, n));
            pos += n;
        }
    }

    /** The end of the last cluster the range ending at {@code end} fully covers; the disk's tail counts whole. */
    private long clusterEnd(long end) {
        return end == size() ? roundUp(end) : end & -clusterSize;
    }

    private long roundUp(long offset) {
        return (offset + clusterSize - 1) & -clusterSize;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            RuntimeException failure = null;
            if (!readOnly) {
                try {
                    writeBackMetadata();
                    file.sync();
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            closed = true;
            l2Cache.clear();
            failure = closeQuietly(backing, failure);
            failure = closeQuietly(file, failure);
            if (failure != null) {
                throw failure;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private static RuntimeException closeQuietly(AutoCloseable c, RuntimeException failure) {
        if (c == null) {
            return failure;
        }
        try {
            c.close();
        } catch (Exception e) {
            RuntimeException r = e instanceof RuntimeException re ? re : new StorageException(e.getMessage(), e);
            if (failure == null) {
                return r;
            }
            failure.addSuppressed(r);
        }
        return failure;
    }

    // ---- reading

    private void readLocked(long offset, ByteBuffer dst) {
        long pos = offset;
        while (dst.hasRemaining()) {
            int inCluster = (int) (pos & (clusterSize - 1));
            int n = (int) Math.min(dst.remaining(), clusterSize - inCluster);
            ClusterMapping m = lookup(pos);
            switch (m) {
                case ClusterMapping.Data d -> {
                    int total = contiguousRun(pos, d.hostOffset(), n, dst.remaining(), false);
                    file.readOrZero(d.hostOffset() + inCluster, dst.slice(dst.position(), total));
                    n = total;
                }
                case ClusterMapping.Zero _ -> zeroFill(dst.slice(dst.position(), n));
                case ClusterMapping.Unallocated _ -> readBacking(pos, dst.slice(dst.position(), n));
                case ClusterMapping.Compressed c -> dst.put(dst.position(), decompress(c), inCluster, n);
            }
            dst.position(dst.position() + n);
            pos += n;
        }
    }

    /**
     * How many bytes from {@code pos} (first cluster: {@code first} bytes) map to consecutive host
     * clusters starting at {@code host}, up to {@code max}; for writes only in-place clusters count.
     */
    private int contiguousRun(long pos, long host, int first, int max, boolean forWrite) {
        int total = first;
        int inCluster = (int) (pos & (clusterSize - 1));
        while (total < max) {
            ClusterMapping next = lookup(pos + total);
            if (!(next instanceof ClusterMapping.Data nd) || nd.hostOffset() != host + inCluster + total
                    || (forWrite && !nd.copied())) {
                break;
            }
            if (forWrite) {
                guardData(pos + total, nd.hostOffset());
            }
            total += (int) Math.min(clusterSize, max - total);
        }
        return total;
    }

    private void readBacking(long pos, ByteBuffer dst) {
        int n = dst.remaining();
        long avail = backing == null ? 0 : Math.max(0, backing.size() - pos);
        int part = (int) Math.min(avail, n);
        if (part > 0) {
            backing.read(pos, dst.slice(0, part));
        }
        zeroFill(dst.slice(part, n - part));
    }

    private static void zeroFill(ByteBuffer dst) {
        while (dst.hasRemaining()) {
            dst.put(ZEROS, 0, Math.min(dst.remaining(), ZEROS.length));
        }
    }

    private byte[] decompress(ClusterMapping.Compressed c) {
        DecompressedCluster last = lastDecompressed;
        if (last != null && last.hostOffset() == c.hostOffset()) {
            return last.data();
        }
        long end = c.freeStart() + c.freeLength();
        int length = Math.toIntExact(end - c.hostOffset());
        byte[] input = new byte[length];
        file.readOrZero(c.hostOffset(), ByteBuffer.wrap(input));
        byte[] out = new byte[(int) clusterSize];
        Deflate.inflateCluster(path, c.hostOffset(), input, length, out);
        lastDecompressed = new DecompressedCluster(c.hostOffset(), out);
        return out;
    }

    // ---- mapping

    private ClusterMapping lookup(long pos) {
        int l1Index = (int) (pos >>> (clusterBits + l2Bits));
        long l2Offset = l1[l1Index] & Entries.OFFSET_MASK;
        if (l2Offset == 0) {
            return ClusterMapping.UNALLOCATED;
        }
        L2Table t = l2Table(l2Offset);
        long entry = t.entries[(int) ((pos >>> clusterBits) & ((1L << l2Bits) - 1))];
        return decode(entry, pos);
    }

    private L2Table l2Table(long offset) {
        L2Table t = l2Cache.get(offset);
        if (t != null) {
            return t;
        }
        ByteBuffer buf = ByteBuffer.allocate((int) clusterSize);
        file.readFully(offset, buf);
        return l2Cache.putIfAbsent(L2Table.decode(offset, buf.flip()));
    }

    private ClusterMapping decode(long entry, long pos) {
        if ((entry & Entries.COMPRESSED) != 0) {
            int x = 62 - (clusterBits - 8);
            long host = entry & ((1L << x) - 1);
            int sectors = (int) ((entry >>> x) & ((1L << (clusterBits - 8)) - 1)) + 1;
            if ((entry & Entries.COPIED) != 0 || host >= Entries.MAX_HOST_OFFSET || host == 0) {
                throw Qcow2Header.corrupt(path, "compressed L2 entry 0x" + Long.toHexString(entry)
                        + " for guest offset " + pos + " is invalid");
            }
            return new ClusterMapping.Compressed(host, sectors);
        }
        if ((entry & Entries.L2_RESERVED) != 0) {
            throw Qcow2Header.corrupt(path, "L2 entry 0x" + Long.toHexString(entry) + " for guest offset "
                    + pos + " has reserved bits set");
        }
        long host = entry & Entries.OFFSET_MASK;
        boolean copied = (entry & Entries.COPIED) != 0;
        if (host % clusterSize != 0) {
            throw Qcow2Header.corrupt(path, "L2 entry for guest offset " + pos + " points to unaligned offset "
                    + host);
        }
        if ((entry & Entries.ZERO) != 0) {
            if (header.version() < 3) {
                throw Qcow2Header.corrupt(path, "version 2 L2 entry for guest offset " + pos
                        + " has the zero flag");
            }
            return new ClusterMapping.Zero(host, copied && host != 0);
        }
        if (host == 0) {
            if (copied) {
                throw Qcow2Header.corrupt(path, "L2 entry for guest offset " + pos + " maps host offset 0");
            }
            return ClusterMapping.UNALLOCATED;
        }
        return new ClusterMapping.Data(host, copied);
    }

    // ---- writing

    /** Writes what maps to clusters writable in place (shared lock); returns where it stopped. */
    private long writeInPlace(long offset, ByteBuffer src) {
        long pos = offset;
        while (src.hasRemaining()) {
            int inCluster = (int) (pos & (clusterSize - 1));
            int n = (int) Math.min(src.remaining(), clusterSize - inCluster);
            if (!(lookup(pos) instanceof ClusterMapping.Data d) || !d.copied()) {
                return pos;
            }
            guardData(pos, d.hostOffset());
            int total = contiguousRun(pos, d.hostOffset(), n, src.remaining(), true);
            writeSlice(d.hostOffset() + inCluster, src, total);
            pos += total;
        }
        return pos;
    }

    private void writeSlice(long host, ByteBuffer src, int n) {
        ByteBuffer part = src.slice(src.position(), n);
        file.writeFully(host, part);
        src.position(src.position() + n);
    }

    /** The general write path (exclusive lock): allocates, copies on write, updates L2. */
    private void writeAllocating(long offset, ByteBuffer src) {
        long pos = offset;
        while (src.hasRemaining()) {
            int inCluster = (int) (pos & (clusterSize - 1));
            int n = (int) Math.min(src.remaining(), clusterSize - inCluster);
            ClusterMapping m = lookup(pos);
            if (m instanceof ClusterMapping.Data d && d.copied()) {
                guardData(pos, d.hostOffset());
                writeSlice(d.hostOffset() + inCluster, src, n);
            } else if (m instanceof ClusterMapping.Zero z && z.copied()) {
                // preallocated zero cluster: fill it in place, then drop the zero flag
                guardData(pos, z.hostOffset());
                if (n == clusterSize) {
                    writeSlice(z.hostOffset(), src, n);
                } else {
                    byte[] buf = new byte[(int) clusterSize];
                    src.get(buf, inCluster, n);
                    file.writeFully(z.hostOffset(), ByteBuffer.wrap(buf));
                }
                setL2(pos, z.hostOffset() | Entries.COPIED);
            } else if (n == clusterSize) {
                n = writeFullClusters(pos, src, m);
            } else {
                byte[] buf = clusterContent(m, pos - inCluster);
                src.get(buf, inCluster, n);
                long host = refcounts.allocateOne();
                file.writeFully(host, ByteBuffer.wrap(buf));
                setL2(pos, host | Entries.COPIED);
                release(m);
            }
            pos += n;
        }
    }

    /** Writes a run of whole clusters that all need new host clusters into one contiguous allocation. */
    private int writeFullClusters(long pos, ByteBuffer src, ClusterMapping first) {
        List<ClusterMapping> olds = new ArrayList<>();
        olds.add(first);
        while (olds.size() < MAX_RUN_CLUSTERS && (long) (olds.size() + 1) * clusterSize <= src.remaining()) {
            ClusterMapping next = lookup(pos + olds.size() * clusterSize);
            if (next instanceof ClusterMapping.Data d && d.copied()
                    || next instanceof ClusterMapping.Zero z && z.copied()) {
                break;
            }
            olds.add(next);
        }
        int done = 0;
        while (done < olds.size()) {
            long[] run = refcounts.allocate(olds.size() - done);
            long host = run[0];
            int count = (int) run[1];
            writeSlice(host, src, (int) (count * clusterSize));
            for (int i = 0; i < count; i++) {
                setL2(pos + (done + i) * clusterSize, (host + i * clusterSize) | Entries.COPIED);
                release(olds.get(done + i));
            }
            done += count;
        }
        return (int) (done * clusterSize);
    }

    /** What guest cluster {@code clusterStart} reads as now, for copy-on-write of a partial write. */
    private byte[] clusterContent(ClusterMapping m, long clusterStart) {
        byte[] buf = new byte[(int) clusterSize];
        switch (m) {
            case ClusterMapping.Unallocated _ -> readBacking(clusterStart, ByteBuffer.wrap(buf));
            case ClusterMapping.Zero _ -> {
                // already zeros
            }
            case ClusterMapping.Data d -> file.readOrZero(d.hostOffset(), ByteBuffer.wrap(buf));
            case ClusterMapping.Compressed c -> System.arraycopy(decompress(c), 0, buf, 0, buf.length);
        }
        return buf;
    }

    /** Refuses a data write into a cluster that holds metadata (a damaged or hostile image). */
    private void guardData(long pos, long host) {
        String kind = meta.kind(host >>> clusterBits);
        if (kind != null) {
            throw Qcow2Header.corrupt(path, "guest offset " + pos + " maps to host offset " + host
                    + ", which holds the " + kind + "; run qemu-img check -r all");
        }
    }

    /** Sets the L2 entry of guest offset {@code pos}, allocating the L2 table if needed. */
    private void setL2(long pos, long entry) {
        int l1Index = (int) (pos >>> (clusterBits + l2Bits));
        long l2Offset = l1[l1Index] & Entries.OFFSET_MASK;
        L2Table t;
        if (l2Offset == 0) {
            long host = refcounts.allocateOne();
            meta.add(host >>> clusterBits, 1, "L2 table " + l1Index);
            t = l2Cache.putIfAbsent(new L2Table(host, new long[1 << l2Bits]));
            l1[l1Index] = host | Entries.COPIED;
            dirtyL1.set(l1Index);
        } else {
            t = l2Table(l2Offset);
        }
        t.entries[(int) ((pos >>> clusterBits) & ((1L << l2Bits) - 1))] = entry;
        l2Cache.markDirty(t);
    }

    /** Queues the host clusters {@code m} used for release once no L2 entry on disk names them. */
    private void release(ClusterMapping m) {
        switch (m) {
            case ClusterMapping.Data d -> pendingFrees.add(new long[] {d.hostOffset(), clusterSize});
            case ClusterMapping.Zero z -> {
                if (z.hostOffset() != 0) {
                    pendingFrees.add(new long[] {z.hostOffset(), clusterSize});
                }
            }
            case ClusterMapping.Compressed c -> pendingFrees.add(new long[] {c.freeStart(), c.freeLength()});
            case ClusterMapping.Unallocated _ -> {
                // nothing held
            }
        }
    }

    private void maybeWriteBack() {
        if (l2Cache.dirtyCount() > l2Cache.capacity() / 2
                || refcounts.dirtyBlocks() > refcounts.cacheCapacity() / 2
                || pendingFrees.size() > MAX_PENDING_FREES) {
            writeBackMetadata();
        }
    }

    /**
     * Writes dirty metadata in the crash-safe order of the class comment. Caller holds the
     * exclusive lock.
     */
    private void writeBackMetadata() {
        boolean l2Dirty = l2Cache.dirtyCount() > 0;
        boolean l1Dirty = !dirtyL1.isEmpty();
        if (!refcounts.hasDirty() && !l2Dirty && !l1Dirty && pendingFrees.isEmpty()) {
            return;
        }
        // clusters counted but not yet written (new L2 tables) must lie inside the file
        long end = refcounts.endCluster() << clusterBits;
        if (file.size() < end) {
            file.writeFully(end - 1, ByteBuffer.allocate(1));
        }
        refcounts.writeBlocks();
        file.sync(); // (1) data and increments before any reference to them
        if (refcounts.writeTableEntries()) {
            file.sync(); // (2) new blocks are reachable only once written
        }
        if (l2Dirty) {
            for (L2Table t : l2Cache.dirtyTables()) {
                file.writeFully(t.offset, t.encode());
                l2Cache.markClean(t);
            }
            file.sync(); // (3) L2 before the L1 entries naming new tables
        }
        if (l1Dirty) {
            for (int i = dirtyL1.nextSetBit(0); i >= 0; i = dirtyL1.nextSetBit(i + 1)) {
                ByteBuffer e = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(0, l1[i]);
                file.writeFully(header.l1TableOffset() + 8L * i, e);
            }
            dirtyL1.clear();
            file.sync(); // (4)
        }
        if (!pendingFrees.isEmpty()) {
            // (5) no L2 entry on disk names these clusters any more: now they may be reused
            for (long[] f : pendingFrees) {
                refcounts.adjust(f[0], f[1], -1);
            }
            pendingFrees.clear();
            refcounts.writeBlocks();
        }
    }

    // ---- checks

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size() - length) {
            throw new IllegalArgumentException("Request of " + length + " bytes at offset " + offset
                    + " lies outside the disk " + path + " (" + size() + " bytes)");
        }
    }

    private void checkWritable() {
        if (readOnly) {
            throw new InvalidStateException("Disk image " + path + " is open read-only");
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new InvalidStateException("Disk image " + path + " is closed");
        }
    }

    @Override
    public String toString() {
        return "Qcow2Image[" + path + (readOnly ? ", read-only" : "") + "]";
    }
}
