package io.boxlite.disk.qcow2;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Least-recently-used cache of metadata tables keyed by file offset. Clean tables beyond the
 * capacity are dropped; dirty ones stay until written back, so the cache may exceed its capacity
 * between write-backs (the image writes back when too many are dirty). Thread-safe.
 */
final class TableCache<T extends CachedTable> {
    private final int capacity;
    private final LinkedHashMap<Long, T> map = new LinkedHashMap<>(64, 0.75f, true);
    private int dirtyCount;

    TableCache(int capacity) {
        this.capacity = Math.max(4, capacity);
    }

    synchronized T get(long offset) {
        return map.get(offset);
    }

    /** Inserts {@code table} unless one is cached for its offset already; returns the cached one. */
    synchronized T putIfAbsent(T table) {
        T old = map.putIfAbsent(table.offset, table);
        if (old != null) {
            return old;
        }
        evictClean();
        return table;
    }

    synchronized void markDirty(T table) {
        if (!table.dirty) {
            table.dirty = true;
            dirtyCount++;
        }
    }

    synchronized void markClean(T table) {
        if (table.dirty) {
            table.dirty = false;
            dirtyCount--;
        }
    }

    synchronized int dirtyCount() {
        return dirtyCount;
    }

    synchronized int capacity() {
        return capacity;
    }

    /** The dirty tables in file-offset order. */
    synchronized List<T> dirtyTables() {
        List<T> out = new ArrayList<>();
        for (T t : map.values()) {
            if (t.dirty) {
                out.add(t);
            }
        }
        out.sort((a, b) -> Long.compare(a.offset, b.offset));
        return out;
    }

    synchronized void remove(long offset) {
        T t = map.remove(offset);
        if (t != null && t.dirty) {
            dirtyCount--;
        }
    }

    synchronized void clear() {
        map.clear();
        dirtyCount = 0;
    }

    private void evictClean() {
        Iterator<Map.Entry<Long, T>> it = map.entrySet().iterator();
        while (map.size() > capacity && it.hasNext()) {
            if (!it.next().getValue().dirty) {
                it.remove();
            }
        }
    }
}
