package io.boxlite.disk.qcow2;

import io.boxlite.StorageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * The refcount table and its blocks: cluster reference counts and cluster allocation.
 *
 * <p>Write-back order (see {@link Qcow2Image} for the whole picture): counts only ever go up in
 * memory until the image applies its deferred frees, so writing dirty blocks at any time keeps
 * every on-disk count at or above the on-disk references. New blocks are written, then synced,
 * before the refcount table entry that points at them ({@link #writeBlocks()} then
 * {@link #writeTableEntries()}). Growing the table writes a complete new table and its blocks,
 * syncs, and only then switches the header to it.
 *
 * <p>Not thread-safe on its own: callers hold the image's write lock for every method except
 * {@link #refcount(long)} under the read lock.
 */
final class Refcounts {
    private static final int HEADER_REFTABLE_FIELDS = 48;

    private final ImageFile file;
    private final Path path;
    private final int clusterBits;
    private final long clusterSize;
    private final int bits;
    private final long maxCount;
    private final int blockEntries;
    private final MetadataMap meta;
    private final TableCache<RefcountBlock> cache;

    private long[] table;
    private long tableOffset;
    private int tableClusters;
    private final BitSet dirtyEntries = new BitSet();
    private long freeHint;
    /** First cluster index past everything allocated or present in the file. */
    private long endCluster;

    private Refcounts(ImageFile file, Qcow2Header h, long[] table, MetadataMap meta, int cacheBytes) {
        this.file = file;
        this.path = file.path();
        this.clusterBits = h.clusterBits();
        this.clusterSize = h.clusterSize();
        this.bits = h.refcountBits();
        this.maxCount = bits == 64 ? Long.MAX_VALUE : (1L << bits) - 1;
        this.blockEntries = (int) (clusterSize * 8 / bits);
        this.meta = meta;
        this.cache = new TableCache<>(Math.max(8, cacheBytes >> clusterBits));
        this.table = table;
        this.tableOffset = h.refcountTableOffset();
        this.tableClusters = h.refcountTableClusters();
        this.endCluster = (file.size() + clusterSize - 1) >>> clusterBits;
    }

    /**
     * Loads the refcount table and checks every entry: aligned, inside the file, no reserved bits,
     * and no block shared with other metadata (a shared block would make counts loop).
     */
    static Refcounts load(ImageFile file, Qcow2Header h, MetadataMap meta, int cacheBytes) {
        long bytes = (long) h.refcountTableClusters() * h.clusterSize();
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.BIG_ENDIAN);
        file.readFully(h.refcountTableOffset(), buf);
        buf.flip();
        long[] table = new long[buf.remaining() / 8];
        buf.asLongBuffer().get(table);
        long fileSize = file.size();
        String clash = meta.add(h.refcountTableOffset() >>> h.clusterBits(), h.refcountTableClusters(),
                "refcount table");
        if (clash != null) {
            throw Qcow2Header.corrupt(file.path(), "the refcount table overlaps the " + clash);
        }
        for (int i = 0; i < table.length; i++) {
            long e = table[i];
            if (e == 0) {
                continue;
            }
            if ((e & Entries.REFTABLE_RESERVED) != 0 || e % h.clusterSize() != 0) {
                throw Qcow2Header.corrupt(file.path(), "refcount table entry " + i + " (0x"
                        + Long.toHexString(e) + ") is not cluster aligned");
            }
            if (e < 0 || e > fileSize - h.clusterSize()) {
                throw Qcow2Header.corrupt(file.path(), "refcount block " + i + " at offset "
                        + Long.toUnsignedString(e) + " lies past the end of the file");
            }
            clash = meta.add(e >>> h.clusterBits(), 1, "refcount block " + i);
            if (clash != null) {
                throw Qcow2Header.corrupt(file.path(), "refcount block " + i + " at offset " + e
                        + " overlaps the " + clash + " (refcount structures loop)");
            }
        }
        return new Refcounts(file, h, table, meta, cacheBytes);
    }

    long tableOffset() {
        return tableOffset;
    }

    int tableClusters() {
        return tableClusters;
    }

    long endCluster() {
        return endCluster;
    }

    /** The reference count of host cluster {@code cluster}. */
    long refcount(long cluster) {
        long idx = cluster / blockEntries;
        if (idx >= table.length || table[(int) idx] == 0) {
            return 0;
        }
        return block((int) idx).get((int) (cluster % blockEntries), bits);
    }

    private RefcountBlock block(int idx) {
        long off = table[idx];
        RefcountBlock b = cache.get(off);
        if (b != null) {
            return b;
        }
        ByteBuffer buf = ByteBuffer.allocate((int) clusterSize);
        file.readFully(off, buf);
        return cache.putIfAbsent(new RefcountBlock(off, buf.array()));
    }

    /** Adds {@code delta} to the count of every cluster that {@code [offset, offset+length)} touches. */
    void adjust(long offset, long length, int delta) {
        long first = offset >>> clusterBits;
        long last = (offset + length - 1) >>> clusterBits;
        for (long c = first; c <= last; c++) {
            adjustOne(c, delta);
        }
    }

    private void adjustOne(long cluster, int delta) {
        long idx = cluster / blockEntries;
        if (idx >= table.length || table[(int) idx] == 0) {
            if (delta < 0) {
                throw Qcow2Header.corrupt(path, "freeing cluster " + cluster
                        + " whose refcount is already 0; run qemu-img check -r all");
            }
            ensureBlock(idx);
        }
        RefcountBlock b = block((int) idx);
        int i = (int) (cluster % blockEntries);
        long v = b.get(i, bits);
        long n = v + delta;
        if (n < 0) {
            throw Qcow2Header.corrupt(path, "freeing cluster " + cluster
                    + " whose refcount is already 0; run qemu-img check -r all");
        }
        if (n > maxCount) {
            throw Qcow2Header.corrupt(path, "refcount of cluster " + cluster + " overflows "
                    + bits + " bits");
        }
        b.set(i, bits, n);
        cache.markDirty(b);
        if (n == 0 && cluster < freeHint) {
            freeHint = cluster;
        }
        if (n > 0 && cluster >= endCluster) {
            endCluster = cluster + 1;
        }
    }

    /**
     * Allocates between one and {@code max} contiguous free clusters (counting one each) and returns
     * {@code {hostOffset, clusters}}. Freed clusters are reused lowest first; otherwise the file
     * grows. A run stops where a refcount block would have to be created, so a block can always
     * be placed inside the range it counts.
     */
    long[] allocate(int max) {
        long c = freeHint;
        while (true) {
            if (((c + 1) << clusterBits) > Entries.MAX_HOST_OFFSET) {
                throw new StorageException("qcow2 image " + path + " is full: host offsets past 64 PB");
            }
            long idx = c / blockEntries;
            if (idx >= table.length || table[(int) idx] == 0) {
                ensureBlock(idx); // takes a cluster of its own range; look again
                continue;
            }
            if (refcount(c) != 0) {
                c++;
                continue;
            }
            String kind = meta.kind(c);
            if (kind != null) {
                throw Qcow2Header.corrupt(path, "cluster " + c + " holds the " + kind
                        + " but its refcount is 0; run qemu-img check -r all");
            }
            break;
        }
        int n = 1;
        while (n < max) {
            long next = c + n;
            long idx = next / blockEntries;
            if (idx >= table.length || table[(int) idx] == 0 || refcount(next) != 0 || meta.kind(next) != null
                    || ((next + 1) << clusterBits) > Entries.MAX_HOST_OFFSET) {
                break;
            }
            n++;
        }
        for (int i = 0; i < n; i++) {
            adjustOne(c + i, 1);
        }
        freeHint = c + n; // everything from the old hint up to c is in use
        return new long[] {c << clusterBits, n};
    }

    /** Allocates one cluster and returns its host offset. */
    long allocateOne() {
        return allocate(1)[0];
    }

    /**
     * Creates the missing refcount block number {@code idx}. All clusters it covers have count 0,
     * so it lives in its own first free cluster and counts itself (no recursion).
     */
    private void ensureBlock(long idx) {
        if (idx >= table.length) {
            growTable(idx + 1);
            if (table[(int) idx] != 0) {
                return; // the growth placed it
            }
        }
        long first = idx * blockEntries;
        long place = -1;
        for (long c = first; c < first + blockEntries; c++) {
            if (meta.kind(c) == null) {
                place = c;
                break;
            }
        }
        if (place < 0) {
            throw Qcow2Header.corrupt(path, "refcount block " + idx + " is missing but its clusters hold metadata");
        }
        RefcountBlock b = new RefcountBlock(place << clusterBits, new byte[(int) clusterSize]);
        b.set((int) (place - first), bits, 1);
        cache.putIfAbsent(b);
        cache.markDirty(b);
        table[(int) idx] = place << clusterBits;
        dirtyEntries.set((int) idx);
        meta.add(place, 1, "refcount block " + idx);
        if (place >= endCluster) {
            endCluster = place + 1;
        }
    }

    /**
     * Replaces the refcount table by a larger one at the end of the file. Everything referenced
     * by the new table is written and synced before the header points to it; the old table's
     * clusters are released afterwards.
     */
    private void growTable(long minEntries) {
        writeBlocks();
        file.sync();
        if (writeTableEntries()) {
            file.sync();
        }
        long perCluster = clusterSize / 8;
        long entries = Math.max(minEntries, (long) table.length * 2);
        long start = endCluster;
        int newClusters;
        Map<Long, Long> newBlocks = new HashMap<>();
        while (true) {
            newClusters = Math.toIntExact((entries + perCluster - 1) / perCluster);
            if ((long) newClusters * clusterSize > Qcow2Header.MAX_REFTABLE_BYTES) {
                throw new StorageException("qcow2 image " + path + " needs a refcount table beyond 8 MiB;"
                        + " use a larger cluster size");
            }
            // blocks for the new table and for themselves, placed right after the table
            long k = 0;
            while (true) {
                long end = start + newClusters + k;
                long needed = 0;
                for (long i = start / blockEntries; i <= (end - 1) / blockEntries; i++) {
                    if (i >= table.length || table[(int) i] == 0) {
                        needed++;
                    }
                }
                if (needed <= k) {
                    break;
                }
                k = needed;
            }
            long end = start + newClusters + k;
            if ((end - 1) / blockEntries >= entries) {
                entries = (end - 1) / blockEntries + 1;
                continue;
            }
            long busy = -1;
            for (long c = start; c < end; c++) {
                if (refcount(c) != 0 || meta.kind(c) != null) {
                    busy = c;
                }
            }
            if (busy >= 0) {
                start = busy + 1;
                continue;
            }
            newBlocks.clear();
            long next = start + newClusters;
            for (long i = start / blockEntries; i <= (end - 1) / blockEntries; i++) {
                if (i >= table.length || table[(int) i] == 0) {
                    newBlocks.put(i, next++);
                }
            }
            break;
        }
        long[] grown = new long[Math.toIntExact((long) newClusters * perCluster)];
        System.arraycopy(table, 0, grown, 0, table.length);
        table = grown;
        for (Map.Entry<Long, Long> nb : newBlocks.entrySet()) {
            long off = nb.getValue() << clusterBits;
            RefcountBlock b = new RefcountBlock(off, new byte[(int) clusterSize]);
            cache.putIfAbsent(b);
            cache.markDirty(b);
            table[Math.toIntExact(nb.getKey())] = off;
            meta.add(nb.getValue(), 1, "refcount block " + nb.getKey());
        }
        long end = start + newClusters + newBlocks.size();
        for (long c = start; c < end; c++) {
            RefcountBlock b = block(Math.toIntExact(c / blockEntries));
            int i = (int) (c % blockEntries);
            b.set(i, bits, b.get(i, bits) + 1);
            cache.markDirty(b);
        }
        endCluster = Math.max(endCluster, end);
        writeBlocks();
        ByteBuffer t = ByteBuffer.allocate(Math.toIntExact((long) newClusters * clusterSize))
                .order(ByteOrder.BIG_ENDIAN);
        t.asLongBuffer().put(table);
        file.writeFully(start << clusterBits, t);
        file.sync();
        ByteBuffer hdr = ByteBuffer.allocate(12).order(ByteOrder.BIG_ENDIAN);
        hdr.putLong(start << clusterBits).putInt(newClusters).flip();
        file.writeFully(HEADER_REFTABLE_FIELDS, hdr);
        file.sync();
        long oldOffset = tableOffset;
        int oldClusters = tableClusters;
        tableOffset = start << clusterBits;
        tableClusters = newClusters;
        dirtyEntries.clear();
        meta.remove(oldOffset >>> clusterBits, oldClusters);
        meta.add(start, newClusters, "refcount table");
        // the header no longer points at the old table: its clusters are free
        adjust(oldOffset, (long) oldClusters * clusterSize, -1);
    }

    /** Writes every dirty block; returns whether anything was written. */
    boolean writeBlocks() {
        boolean wrote = false;
        for (RefcountBlock b : cache.dirtyTables()) {
            file.writeFully(b.offset, b.encode());
            cache.markClean(b);
            wrote = true;
        }
        return wrote;
    }

    /** Writes the dirty refcount table entries; call only after their blocks are synced. */
    boolean writeTableEntries() {
        boolean wrote = false;
        for (int i = dirtyEntries.nextSetBit(0); i >= 0; i = dirtyEntries.nextSetBit(i + 1)) {
            ByteBuffer e = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(0, table[i]);
            file.writeFully(tableOffset + 8L * i, e);
            wrote = true;
        }
        dirtyEntries.clear();
        return wrote;
    }

    boolean hasDirty() {
        return cache.dirtyCount() > 0 || !dirtyEntries.isEmpty();
    }

    int dirtyBlocks() {
        return cache.dirtyCount();
    }

    int cacheCapacity() {
        return cache.capacity();
    }
}
