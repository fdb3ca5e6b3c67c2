package io.boxlite.disk.qcow2;

/**
 * A one-cluster metadata table (L2 table or refcount block) held in memory. {@code dirty} tables
 * differ from the file and are written back only in the order {@link Qcow2Image} documents; they
 * are never evicted. Guarded by the image's locks, see {@link TableCache}.
 */
abstract sealed class CachedTable permits L2Table, RefcountBlock {
    final long offset;
    volatile boolean dirty;

    CachedTable(long offset) {
        this.offset = offset;
    }
}
