package io.boxlite.oci.registry;

import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageReference;
import java.util.List;

/**
 * Progress of a pull. Blobs download in parallel, so {@link #progress} and {@link #blobDone}
 * are called from several threads at once: implementations must be thread-safe and quick.
 *
 * {@snippet :
 * puller.pull(ref, new PullListener() {
 *     @Override
 *     public void progress(Digest blob, long done, long total) {
 *         System.out.printf("%s %d/%d%n", blob.shortHex(), done, total);
 *     }
 * });
 * }
 */
public interface PullListener {
    /** A listener that ignores everything. */
    PullListener NONE = new PullListener() {
    };

    /** The manifest was resolved (after platform selection); its blobs follow. */
    default void resolved(ImageReference reference, Digest manifest, List<Descriptor> layers) {
    }

    /** {@code done} of {@code total} bytes of {@code blob} are in (from a resume: from there). */
    default void progress(Digest blob, long done, long total) {
    }

    /** {@code blob} is in the store; {@code alreadyPresent} if nothing had to be downloaded. */
    default void blobDone(Digest blob, boolean alreadyPresent) {
    }
}
