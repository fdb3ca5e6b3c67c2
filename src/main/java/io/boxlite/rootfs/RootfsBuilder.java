package io.boxlite.rootfs;

import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.StorageException;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageConfig;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageManifest;
import io.boxlite.oci.Json;
import io.boxlite.oci.ManifestDocument;
import io.boxlite.oci.store.FileLocks;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Builds the ext4 base of an image: its layers applied in order (see {@link LayerApplier} for
 * the rules that keep every entry inside the tree), then {@code mke2fs -d} and a
 * {@code debugfs} pass that sets owners, modes, device nodes and xattrs, so the result is the
 * same whether the runtime runs as root or not (see {@link Ext4Image}).
 *
 * {@snippet :
 * try (ImageStore store = ImageStore.open(home)) {
 *     ImageRecord image = store.resolve("python:3.12-slim");
 *     store.pin(image.manifestDigest(), "box:" + id);      // first: keeps rmi and GC away
 *     Rootfs rootfs = RootfsBuilder.create(store).build(image);
 *     // rootfs.image() backs the box's qcow2 overlay; rootfs.config() has Env, Cmd, ...
 * }
 * }
 *
 * <p><b>Cache.</b> One base per manifest digest at {@code images/rootfs/<hex>.ext4}, beside
 * the OCI layout's {@code blobs/} (OCI tools ignore the directory). It is built in the home's
 * {@code tmp/} and renamed into place after an fsync, so a reader sees a complete base or
 * none. A build holds a per-digest lock (a slot of {@code images/rootfs/locks}, shared with
 * other processes on the home), so concurrent builders of one image wait for a single build
 * and then return the cached base. {@link ImageStore#gc} deletes bases whose manifest is
 * neither tagged nor pinned; a box therefore pins its image before building, and unpins it
 * when removed.
 *
 * <p>Thread-safe. Failures leave nothing behind in {@code tmp/} or {@code images/rootfs/}.
 */
public final class RootfsBuilder {
    /** Free space a base gets beyond its content, unless {@link #create(ImageStore, long)} says otherwise. */
    public static final long DEFAULT_HEADROOM = 256L << 20;
    /**
     * The most an image's layers may unpack to, all together, unless {@link Options#maxUnpackedBytes}
     * or {@value #MAX_UNPACKED_ENV} says otherwise: 32 GiB, above the largest common images
     * (CUDA and ML images reach 10-20 GB) yet finite, so a decompression bomb stops there.
     */
    public static final long DEFAULT_MAX_UNPACKED_BYTES = 32L << 30;
    /** The environment variable that sets the unpack limit when {@link Options} does not. */
    public static final String MAX_UNPACKED_ENV = "BOXLITE_MAX_UNPACKED_BYTES";
    private static final System.Logger LOG = System.getLogger(RootfsBuilder.class.getName());

    private final ImageStore store;
    private final long headroom;
    private final Duration lockTimeout;
    private final long maxUnpackedBytes;

    private RootfsBuilder(ImageStore store, long headroom, Duration lockTimeout, long maxUnpackedBytes) {
        this.store = store;
        this.headroom = headroom;
        this.lockTimeout = lockTimeout;
        this.maxUnpackedBytes = maxUnpackedBytes;
    }

    /** A builder with {@link #DEFAULT_HEADROOM}. */
    public static RootfsBuilder create(ImageStore store) {
        return create(store, DEFAULT_HEADROOM);
    }

    /**
     * A builder whose bases get {@code headroom} bytes of free space beyond their content
     * (boxes that need more grow their own disk).
     *
     * @throws InvalidArgumentException if {@code headroom} is negative
     */
    public static RootfsBuilder create(ImageStore store, long headroom) {
        Objects.requireNonNull(store, "store");
        if (headroom < 0) {
            throw new InvalidArgumentException("Rootfs headroom must not be negative, got "
                    + headroom);
        }
        return new RootfsBuilder(store, headroom, ImageStore.DEFAULT_LOCK_TIMEOUT, DEFAULT_MAX_UNPACKED_BYTES);
    }

    /**
     * This builder with another limit on the bytes an image's layers may unpack to (all layers
     * together, as uncompressed tar streams); a build that passes it fails with
     * {@link io.boxlite.ErrorCode#RESOURCE_EXHAUSTED} and leaves nothing behind.
     *
     * @throws InvalidArgumentException if {@code limit} is not positive
     */
    public RootfsBuilder withMaxUnpackedBytes(long limit) {
        if (limit <= 0) {
            throw new InvalidArgumentException("maxUnpackedBytes: must be positive, got " + limit);
        }
        return new RootfsBuilder(store, headroom, lockTimeout, limit);
    }

    /**
     * The unpack limit for a runtime: {@link Options#maxUnpackedBytes}, else
     * {@value #MAX_UNPACKED_ENV} (bytes, decimal), else {@link #DEFAULT_MAX_UNPACKED_BYTES}.
     *
     * @throws InvalidArgumentException naming the source if the value is not a positive number
     */
    public static long maxUnpackedBytes(Options options, Map<String, String> env) {
        if (options.maxUnpackedBytes().isPresent()) {
            return options.maxUnpackedBytes().getAsLong();
        }
        String value = env.get(MAX_UNPACKED_ENV);
        if (value == null || value.isBlank()) {
            return DEFAULT_MAX_UNPACKED_BYTES;
        }
        try {
            long limit = Long.parseLong(value.strip());
            if (limit > 0) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // why: reported below, with the value
        }
        throw new InvalidArgumentException(MAX_UNPACKED_ENV + ": must be a positive number of bytes, got '"
                + value + "'");
    }

    /** The directory of cached bases, {@code images/rootfs/}. */
    public Path cacheDir() {
        return store.rootfsDir();
    }

    /** Where the base of {@code manifest} is (or would be) cached. */
    public Path basePath(Digest manifest) {
        return store.rootfsDir().resolve(manifest.hex() + ImageStore.ROOTFS_SUFFIX);
    }

    /** The cached base of {@code manifest}, if it was built. */
    public Optional<Path> cached(Digest manifest) {
        Path path = basePath(manifest);
        return Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) ? Optional.of(path)
                : Optional.empty();
    }

    /** {@link #build(Digest)} of {@code image}'s manifest. */
    public Rootfs build(ImageRecord image) {
        return build(Objects.requireNonNull(image, "image").manifestDigest());
    }

    /**
     * Returns the ext4 base of the image whose manifest is {@code manifest}, building it if it
     * is not cached. Waits while another thread or process builds the same image.
     *
     * @throws io.boxlite.NotFoundException if the manifest, config or a layer is not in the store
     * @throws UnsafeLayerException if a layer entry tries to leave the root filesystem
     * @throws ImageException if a layer is malformed or does not match the config's diff_ids
     * @throws io.boxlite.UnsupportedException for sparse files in a layer, or zstd without
     *         zstd-jni
     * @throws io.boxlite.EngineUnavailableException if e2fsprogs is not installed
     * @throws io.boxlite.BoxliteException ({@link io.boxlite.ErrorCode#RESOURCE_EXHAUSTED}) if the
     *         layers unpack to more than the limit ({@link #withMaxUnpackedBytes})
     * @throws StorageException if the image cannot be written or e2fsck finds it inconsistent
     */
    public Rootfs build(Digest manifest) {
        Objects.requireNonNull(manifest, "manifest");
        ImageManifest doc = manifestOf(manifest);
        byte[] configBytes = store.readBlob(doc.config().digest());
        ImageConfig config = ImageConfig.parse(configBytes, "Config of " + manifest);
        List<Digest> diffIds = diffIds(configBytes, manifest);
        if (diffIds.size() != doc.layers().size()) {
            throw new ImageException("Image " + manifest + " has " + doc.layers().size()
                    + " layers but its config lists " + diffIds.size()
                    + " diff_ids: the image is malformed");
        }
        Path target = basePath(manifest);
        try {
            Files.createDirectories(store.rootfsDir());
        } catch (IOException e) {
            throw new StorageException("Cannot create " + store.rootfsDir(), e);
        }
        try (var held = FileLocks.acquire(store.rootfsDir().resolve("locks"), slot(manifest),
                lockTimeout, "the rootfs build of " + manifest)) {
            if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
                return new Rootfs(manifest, target, config, size(target), false);
            }
            long start = System.nanoTime();
            buildInto(target, doc.layers(), diffIds, manifest);
            LOG.log(Level.INFO, "Built the root filesystem of {0} in {1} ms", manifest.shortHex(),
                    (System.nanoTime() - start) / 1_000_000);
            return new Rootfs(manifest, target, config, size(target), true);
        }
    }

    private void buildInto(Path target, List<Descriptor> layers, List<Digest> diffIds,
                           Digest manifest) {
        long started = System.nanoTime();
        Path work = store.home().staging().newStagingDir("rootfs-" + manifest.hex()
                .substring(0, 12));
        try {
            Path treeDir = work.resolve("tree");
            Files.createDirectory(treeDir);
            var tree = new StagedTree(treeDir);
            var budget = new UnpackBudget(maxUnpackedBytes, manifest.toString());
            var applier = new LayerApplier(tree, budget);
            for (int i = 0; i < layers.size(); i++) {
                Descriptor layer = layers.get(i);
                String what = "Layer " + layer.digest() + " (" + (i + 1) + " of " + layers.size()
                        + ") of image " + manifest.shortHex();
                budget.layer(what);
                applyLayer(applier, budget, store.blobPath(layer.digest()), what, diffIds.get(i));
            }
            tree.applyTimes();
            long applied = System.nanoTime();
            store.home().staging().writeAtomically(target, staged -> Ext4Image.build(tree,
                    staged, work, headroom, manifest.toString()));
            LOG.log(Level.DEBUG, "Rootfs of {0}: layers applied in {1} ms, image built and "
                    + "published in {2} ms", manifest.shortHex(), (applied - started) / 1_000_000,
                    (System.nanoTime() - applied) / 1_000_000);
        } catch (IOException e) {
            throw new StorageException("Could not build the root filesystem of " + manifest
                    + " in " + work, e);
        } finally {
            try {
                long cleanup = System.nanoTime();
                if (Files.exists(work, LinkOption.NOFOLLOW_LINKS)) {
                    StagedTree.deleteTree(work);
                }
                LOG.log(Level.DEBUG, "Rootfs of {0}: staging removed in {1} ms",
                        manifest.shortHex(), (System.nanoTime() - cleanup) / 1_000_000);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "Could not remove " + work
                        + " (Staging.sweepStale removes it later)", e);
            }
        }
    }

    private static void applyLayer(LayerApplier applier, UnpackBudget budget, Path blob, String what,
                                   Digest diffId) throws IOException {
        MessageDigest sha = Digest.newSha256();
        try (InputStream raw = Files.newInputStream(blob);
             InputStream tar = new DigestInputStream(budget.meter(LayerCompression.open(raw)), sha)) {
            var reader = new TarReader(tar, what);
            applier.apply(reader, what);
            reader.drain();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new io.boxlite.NotFoundException(what + " is missing from the store: pull "
                    + "the image again", e);
        } catch (java.util.zip.ZipException | java.io.EOFException e) {
            throw new ImageException(what + " is not a valid compressed tar (" + e.getMessage()
                    + "): the blob is corrupt", e);
        }
        Digest actual = Digest.of(sha);
        if (!actual.equals(diffId)) {
            throw new ImageException(what + " uncompresses to " + actual + " but the image "
                    + "config's diff_id is " + diffId + ": the image is corrupt or was tampered "
                    + "with");
        }
    }

    private ImageManifest manifestOf(Digest manifest) {
        ManifestDocument doc = ManifestDocument.parse(store.readBlob(manifest), Optional.empty(),
                "Manifest " + manifest);
        return switch (doc) {
            case ImageManifest m -> m;
            case io.boxlite.oci.ImageIndex ignored -> throw new ImageException("Manifest "
                    + manifest + " is an index: build the platform manifest it lists instead");
        };
    }

    private static List<Digest> diffIds(byte[] config, Digest manifest) {
        String what = "Config of " + manifest;
        var rootfs = Json.object(config, what).path("rootfs");
        var ids = new ArrayList<Digest>();
        for (var node : Json.array(rootfs, "diff_ids", what + " rootfs")) {
            if (!node.isTextual()) {
                throw new ImageException(what + ": rootfs.diff_ids holds a non-string");
            }
            ids.add(Digest.parse(node.asText()));
        }
        return ids;
    }

    private static long slot(Digest digest) {
        return Long.parseLong(digest.hex().substring(0, 5), 16);
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new StorageException("Cannot read " + file, e);
        }
    }
}
