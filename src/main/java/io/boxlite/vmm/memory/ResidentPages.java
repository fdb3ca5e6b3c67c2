package io.boxlite.vmm.memory;

import io.boxlite.StorageException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * How much of guest RAM the host has backed with pages — what the guest (or the loader) touched —
 * read from {@code /proc/self/pagemap} (one 64-bit entry per 4 KiB page, bit 63 "present").
 * Plain file reads: no foreign call, so virtual threads may call it.
 *
 * {@snippet :
 * long touched = ResidentPages.bytes(vm.memory());
 * }
 */
public final class ResidentPages {
    static final Path PAGEMAP = Path.of("/proc/self/pagemap");
    private static final long PAGE = 4096;
    private static final long PRESENT = 1L << 63;
    private static final int BATCH = 4096; // entries per read: 32 KiB

    private ResidentPages() {
    }

    /** Bytes of {@code memory}'s regions present in RAM now. */
    public static long bytes(GuestMemory memory) {
        try (FileChannel ch = FileChannel.open(PAGEMAP)) {
            ByteBuffer buf = ByteBuffer.allocate(BATCH * Long.BYTES).order(ByteOrder.nativeOrder());
            long present = 0;
            for (GuestRegion r : memory.regions()) {
                long first = r.host().address() / PAGE;
                long pages = r.size() / PAGE;
                for (long p = 0; p < pages; p += BATCH) {
                    int n = (int) Math.min(BATCH, pages - p);
                    buf.clear().limit(n * Long.BYTES);
                    long at = Math.multiplyExact(first + p, (long) Long.BYTES);
                    while (buf.hasRemaining()) {
                        if (ch.read(buf, at + buf.position()) < 0) {
                            throw new StorageException("Short read of " + PAGEMAP + " at entry " + (first + p));
                        }
                    }
                    for (int i = 0; i < n; i++) {
                        if ((buf.getLong(i * Long.BYTES) & PRESENT) != 0) {
                            present += PAGE;
                        }
                    }
                }
            }
            return present;
        } catch (IOException e) {
            throw new StorageException("Cannot read " + PAGEMAP + ": " + e.getMessage(), e);
        }
    }
}
