package io.boxlite.oci.store;

import io.boxlite.oci.Digest;
import java.util.List;

/**
 * What a garbage collection removed.
 *
 * @param removedBlobs     blobs deleted from {@code blobs/sha256/}
 * @param freedBytes       their total size
 * @param removedPartials  abandoned partial downloads deleted from {@code tmp/ingest/}
 * @param keptBlobs        blobs still referenced (or too young to collect)
 */
public record GcResult(List<Digest> removedBlobs, long freedBytes, int removedPartials,
                       int keptBlobs) {
    public GcResult {
        removedBlobs = List.copyOf(removedBlobs);
    }
}
