package io.boxlite.disk.qcow2;

import java.util.HashMap;
import java.util.Map;

/**
 * Which host clusters hold metadata (header, L1 table, refcount table and blocks, L2 tables).
 * Guards against damaged images: a data write or a new allocation landing on metadata would
 * destroy the image, so both are refused with a clear error instead. Guarded by the image's
 * write lock for changes; reads happen under its read or write lock.
 */
final class MetadataMap {
    private final Map<Long, String> clusters = new HashMap<>();

    /** Records {@code count} clusters from {@code firstCluster} as {@code kind}; returns the clash, if any. */
    String add(long firstCluster, long count, String kind) {
        for (long c = firstCluster; c < firstCluster + count; c++) {
            String old = clusters.putIfAbsent(c, kind);
            if (old != null) {
                return old;
            }
        }
        return null;
    }

    void remove(long firstCluster, long count) {
        for (long c = firstCluster; c < firstCluster + count; c++) {
            clusters.remove(c);
        }
    }

    /** What metadata lives in {@code cluster}, or null. */
    String kind(long cluster) {
        return clusters.get(cluster);
    }
}
