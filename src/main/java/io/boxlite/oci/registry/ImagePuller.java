package io.boxlite.oci.registry;

import io.boxlite.BoxliteException;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageIndex;
import io.boxlite.oci.ImageManifest;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.ManifestDocument;
import io.boxlite.oci.MediaTypes;
import io.boxlite.oci.store.BlobIngest;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import java.net.http.HttpClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Pulls images from registries into an {@link ImageStore}, as {@code docker pull} does: resolves
 * the reference to a manifest (picking this host's platform from a multi-platform index and
 * skipping attestations), downloads config and layers in parallel on virtual threads, verifies
 * every blob before it enters the store, and tags the image. Blobs already in the store are not
 * downloaded again, and concurrent pulls of one image (in this process or others sharing the
 * home) download each blob once.
 *
 * {@snippet :
 * try (ImageStore store = ImageStore.open(home)) {
 *     var puller = new ImagePuller(store, RegistryOptions.defaults());
 *     ImageRecord image = puller.pull(ImageReference.parse("alpine:3.20"), PullListener.NONE);
 * }
 * }
 *
 * <p>Thread-safe; one puller may serve many pulls at once.
 */
public final class ImagePuller {
    private static final int MAX_INDEX_DEPTH = 2;

    private final ImageStore store;
    private final RegistryOptions options;
    private final HttpClient http;
    private final Map<String, RegistryClient> clients = new ConcurrentHashMap<>();

    public ImagePuller(ImageStore store, RegistryOptions options) {
        this.store = Objects.requireNonNull(store, "store");
        this.options = Objects.requireNonNull(options, "options");
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER) // why: Authorization must not follow
                .connectTimeout(options.connectTimeout())
                .build();
    }

    /** Pulls {@code reference} (parsed with Docker's defaults) without progress reports. */
    public ImageRecord pull(String reference) {
        return pull(ImageReference.parse(reference), PullListener.NONE);
    }

    /**
     * Pulls {@code reference} and tags it in the store under its canonical form.
     *
     * @throws io.boxlite.NotFoundException if the registry does not know the image
     * @throws ImageException if authentication fails, the registry keeps failing, the image
     *         has no manifest for this platform, or a blob does not verify (nothing of it is
     *         stored); a download cut short is kept and resumed by the next pull
     * @throws io.boxlite.StorageException if the store cannot be written
     */
    public ImageRecord pull(ImageReference reference, PullListener listener) {
        Objects.requireNonNull(reference, "reference");
        Objects.requireNonNull(listener, "listener");
        RegistryClient client = clients.computeIfAbsent(reference.registry(),
                r -> new RegistryClient(http, reference, options));
        String repository = reference.repository();
        String what = reference.toString();

        RegistryClient.FetchedManifest fetched = client.manifest(repository,
                reference.manifestReference());
        ManifestDocument doc = ManifestDocument.parse(fetched.bytes(), fetched.contentType(), what);
        Optional<Digest> indexDigest = Optional.empty();
        for (int depth = 0; doc instanceof ImageIndex index; depth++) {
            if (depth >= MAX_INDEX_DEPTH) {
                throw new ImageException(what + " nests indexes more than " + MAX_INDEX_DEPTH
                        + " deep");
            }
            if (indexDigest.isEmpty()) {
                indexDigest = Optional.of(fetched.digest());
            }
            Descriptor chosen = index.select(options.platform(), what);
            fetched = client.manifest(repository, chosen.digest().toString());
            doc = ManifestDocument.parse(fetched.bytes(), Optional.of(chosen.mediaType()),
                    what + "@" + chosen.digest());
        }
        ImageManifest manifest = (ImageManifest) doc;
        checkRunnable(manifest, what);
        listener.resolved(reference, manifest.digest(), manifest.layers());
        fetchBlobs(client, repository, manifest, listener);
        return store.commit(reference, manifest, indexDigest);
    }

    private static void checkRunnable(ImageManifest manifest, String what) {
        String configType = manifest.config().mediaType();
        if (!MediaTypes.CONFIGS.contains(configType)) {
            throw new ImageException(what + " is not a container image: its config has media "
                    + "type '" + configType + "' (an OCI artifact such as a Helm chart or "
                    + "signature?)");
        }
        for (Descriptor layer : manifest.layers()) {
            if (!MediaTypes.LAYERS.contains(layer.mediaType())) {
                throw new ImageException(what + " has layer " + layer.digest()
                        + " of unsupported media type '" + layer.mediaType() + "'");
            }
        }
    }

    /** Downloads config and layers in parallel; the first failure cancels the rest. */
    private void fetchBlobs(RegistryClient client, String repository, ImageManifest manifest,
                            PullListener listener) {
        var unique = new LinkedHashMap<Digest, Descriptor>();
        for (Descriptor blob : manifest.blobs()) {
            Descriptor previous = unique.putIfAbsent(blob.digest(), blob);
            if (previous != null && previous.size() != blob.size()) {
                throw new ImageException("Manifest " + manifest.digest() + " lists blob "
                        + blob.digest() + " with two different sizes");
            }
        }
        try (ExecutorService pool = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("boxlite-pull-", 0).factory())) {
            var futures = new ArrayList<Future<?>>();
            for (Descriptor blob : unique.values()) {
                futures.add(pool.submit(() -> fetchBlob(client, repository, blob, listener)));
            }
            waitAll(futures, pool);
        }
    }

    private void fetchBlob(RegistryClient client, String repository, Descriptor blob,
                           PullListener listener) {
        BlobIngest.Outcome outcome = store.ingest().fetch(blob,
                offset -> client.blob(repository, blob.digest(), offset),
                (done, total) -> listener.progress(blob.digest(), done, total),
                options.retry(), client.uri(repository, "blobs", blob.digest().toString())
                        .toString());
        listener.blobDone(blob.digest(), outcome == BlobIngest.Outcome.ALREADY_PRESENT);
    }

    private static void waitAll(List<Future<?>> futures, ExecutorService pool) {
        for (Future<?> future : futures) {
            try {
                future.get();
            } catch (ExecutionException e) {
                pool.shutdownNow();
                Throwable cause = e.getCause();
                if (cause instanceof BoxliteException be) {
                    throw be;
                }
                throw new ImageException("Downloading a blob failed: " + cause, cause);
            } catch (InterruptedException e) {
                pool.shutdownNow();
                Thread.currentThread().interrupt();
                throw new ImageException("Interrupted while pulling", e);
            }
        }
    }
}
