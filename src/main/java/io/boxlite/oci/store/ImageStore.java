package io.boxlite.oci.store;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.NotFoundException;
import io.boxlite.StorageException;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageConfig;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageManifest;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Json;
import io.boxlite.oci.ManifestDocument;
import io.boxlite.oci.MediaTypes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The image cache at {@code $BOXLITE_HOME/images/}: a valid OCI image layout ({@code oci-layout},
 * {@code index.json}, {@code blobs/sha256/}) that {@code skopeo} and {@code umoci} read, indexed
 * by {@code db/images.db}. Blobs are content-addressed and shared between images (a base layer
 * is stored once); manifests are stored byte for byte, so their digests never change.
 *
 * {@snippet :
 * try (ImageStore store = ImageStore.open(BoxliteHome.resolve(Options.defaults()))) {
 *     ImageRecord image = store.resolve("busybox");
 *     ImageConfig config = store.config(image);
 *     List<Path> layers = store.layerPaths(image);
 * }
 * }
 *
 * <p><b>Pins.</b> A component that builds something from an image that must outlive
 * {@code rmi} (the rootfs builder's ext4 base backing a box) calls
 * {@link #pin(Digest, String)} with its manifest digest and a holder name such as
 * {@code "box:<id>"}, and {@link #unpin} when done. {@link #gc} never removes a pinned image's
 * blobs and {@link #remove} refuses to untag the last tag of a pinned image unless forced.
 * Caches derived from images (ext4 bases) should drop entries whose manifest is not in
 * {@link #liveManifests()}, inside {@link #withLock} so no pull or pin races them.
 *
 * <p>Thread-safe, and safe for several processes sharing a home: changes to the tags,
 * {@code index.json} and GC hold the store lock ({@code db/images.lock}).
 */
public final class ImageStore implements AutoCloseable {
    /** Default wait for another process's lock (a download of the same blob, a GC). */
    public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofMinutes(30);
    /** GC leaves blobs younger than this alone: they may belong to a pull not yet tagged. */
    public static final Duration DEFAULT_GC_GRACE = Duration.ofHours(1);

    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern PARTIAL = Pattern.compile("sha256-([0-9a-f]{64})\\.partial");
    private static final long MAX_METADATA = 16L << 20;
    /** File name suffix of the rootfs builder's ext4 bases in {@link #rootfsDir()}. */
    public static final String ROOTFS_SUFFIX = ".ext4";
    private static final Pattern ROOTFS_BASE = Pattern.compile("([0-9a-f]{64})\\.ext4");

    private final BoxliteHome home;
    private final Path layout;
    private final Path blobs;
    private final Path storeLock;
    private final Duration lockTimeout;
    private final ImageDatabase db;
    private final BlobIngest ingest;

    private ImageStore(BoxliteHome home, Duration lockTimeout, ImageDatabase db) {
        this.home = home;
        this.layout = home.images();
        this.blobs = layout.resolve("blobs").resolve("sha256");
        this.storeLock = home.db().resolve("images.lock");
        this.lockTimeout = lockTimeout;
        this.db = db;
        this.ingest = new BlobIngest(this, home.tmp().resolve("ingest"), lockTimeout);
    }

    /** Opens (creating if needed) the store of {@code home}; see {@link #open(BoxliteHome, Duration)}. */
    public static ImageStore open(BoxliteHome home) {
        return open(home, DEFAULT_LOCK_TIMEOUT);
    }

    /**
     * Opens the store, creating the home, the layout and the database if missing.
     *
     * @param lockTimeout how long to wait for locks held by other pulls or processes
     * @throws StorageException if the home or layout cannot be created
     */
    public static ImageStore open(BoxliteHome home, Duration lockTimeout) {
        Objects.requireNonNull(home, "home").open();
        Objects.requireNonNull(lockTimeout, "lockTimeout");
        try {
            Files.createDirectories(home.images().resolve("blobs").resolve("sha256"));
            Files.createDirectories(home.tmp().resolve("ingest"));
        } catch (IOException e) {
            throw new StorageException("Cannot create the image layout in " + home.images(), e);
        }
        ImageDatabase db = ImageDatabase.open(home.db().resolve("images.db"));
        var store = new ImageStore(home, lockTimeout, db);
        try {
            store.withLock(() -> {
                if (!Files.exists(store.layout.resolve("oci-layout"))) {
                    home.staging().writeAtomically(store.layout.resolve("oci-layout"),
                            "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
                }
                if (!Files.exists(store.layout.resolve("index.json"))) {
                    store.writeIndex();
                }
                return null;
            });
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        return store;
    }

    /** The home this store lives in. */
    public BoxliteHome home() {
        return home;
    }

    /** The OCI layout directory, {@code images/}. */
    public Path layout() {
        return layout;
    }

    /**
     * {@code images/rootfs/}: the ext4 bases built from images ({@code <manifest hex>.ext4},
     * by {@code io.boxlite.rootfs.RootfsBuilder}), beside {@code blobs/}; OCI tools ignore it.
     * {@link #gc} deletes the bases of manifests that are neither tagged nor pinned.
     */
    public Path rootfsDir() {
        return layout.resolve("rootfs");
    }

    /** The ingest of blobs into this store (used by pulls and imports). */
    public BlobIngest ingest() {
        return ingest;
    }

    /** Where blob {@code digest} is (or would be) stored. */
    public Path blobPath(Digest digest) {
        return blobs.resolve(digest.hex());
    }

    /** Whether blob {@code digest} is in the store. */
    public boolean hasBlob(Digest digest) {
        return Files.isRegularFile(blobPath(digest), LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Reads a small blob (a manifest or config), checking its digest.
     *
     * @throws NotFoundException if it is missing
     * @throws ImageException if it is larger than 16 MiB or does not match its digest
     */
    public byte[] readBlob(Digest digest) {
        Path path = blobPath(digest);
        try {
            if (Files.size(path) > MAX_METADATA) {
                throw new ImageException("Blob " + digest + " is too large for a manifest or config");
            }
            byte[] data = Files.readAllBytes(path);
            if (!Digest.of(data).equals(digest)) {
                throw new ImageException("Blob " + digest + " in " + blobs + " is corrupt (its "
                        + "content hashes differently): remove the image and pull it again");
            }
            return data;
        } catch (NoSuchFileException e) {
            throw new NotFoundException("Blob " + digest + " is missing from " + blobs
                    + ": pull the image again", e);
        } catch (IOException e) {
            throw new StorageException("Cannot read blob " + digest, e);
        }
    }

    /**
     * Tags {@code manifest} as {@code reference}: stores the manifest bytes, checks that its
     * config and layers are present, records the image in the database and in
     * {@code index.json}. Replaces an existing tag of the same name.
     *
     * @param indexDigest the index the manifest was selected from, if any
     * @throws ImageException if a blob the manifest references is missing
     */
    public ImageRecord commit(ImageReference reference, ImageManifest manifest,
                              Optional<Digest> indexDigest) {
        Objects.requireNonNull(reference, "reference");
        Objects.requireNonNull(manifest, "manifest");
        return withLock(() -> {
            for (Descriptor blob : manifest.blobs()) {
                if (!hasBlob(blob.digest())) {
                    throw new ImageException("Cannot tag " + reference + ": blob " + blob.digest()
                            + " is missing (a concurrent garbage collection may have removed "
                            + "it); pull again");
                }
            }
            ingest.putBytes(manifest.digest(), manifest.bytes(), "Manifest of " + reference);
            var record = new ImageRecord(reference.toString(), manifest.digest(),
                    manifest.mediaType(), manifest.config().digest(), indexDigest,
                    manifest.layers(), manifest.totalSize(),
                    Instant.now().truncatedTo(ChronoUnit.MILLIS));
            db.upsert(record);
            writeIndex();
            return record;
        });
    }

    /** Every tagged image, by reference. */
    public List<ImageRecord> list() {
        return db.list();
    }

    /** The image tagged {@code reference} (Docker's defaults apply: {@code busybox} works). */
    public Optional<ImageRecord> find(String reference) {
        return db.find(ImageReference.parse(reference).toString());
    }

    /**
     * The image named {@code text}: a reference, or a manifest digest ({@code sha256:…}, or a
     * unique prefix of its hex of at least 12 characters, as Docker shows ids).
     *
     * @throws NotFoundException if no image matches
     * @throws InvalidArgumentException if {@code text} is malformed or an id prefix is ambiguous
     */
    public ImageRecord resolve(String text) {
        Objects.requireNonNull(text, "text");
        Optional<ImageRecord> byId = findById(text);
        if (byId.isPresent()) {
            return byId.get();
        }
        ImageReference reference = ImageReference.parse(text);
        return db.find(reference.toString()).orElseThrow(() -> new NotFoundException(
                "No such image: " + reference + " (pull it first; 'boxlite images' lists "
                        + "what is stored)"));
    }

    private Optional<ImageRecord> findById(String text) {
        String hex = text.startsWith("sha256:") ? text.substring(7) : text;
        if (!hex.matches("[0-9a-f]{12,64}")) {
            return Optional.empty();
        }
        var matches = list().stream()
                .filter(r -> r.manifestDigest().hex().startsWith(hex))
                .map(ImageRecord::manifestDigest).distinct().toList();
        if (matches.size() > 1) {
            throw new InvalidArgumentException("Image id " + text + " is ambiguous: it matches "
                    + matches + "; give more characters");
        }
        return matches.stream().findFirst().flatMap(d -> db.byManifest(d).stream().findFirst());
    }

    /** The stored manifest of {@code image}, parsed. */
    public ImageManifest manifest(ImageRecord image) {
        byte[] data = readBlob(image.manifestDigest());
        return switch (ManifestDocument.parse(data, Optional.of(image.mediaType()),
                "Manifest of " + image.reference())) {
            case ImageManifest m -> m;
            case io.boxlite.oci.ImageIndex ignored -> throw new ImageException("Stored manifest of "
                    + image.reference() + " is an index; remove the image and pull it again");
        };
    }

    /** The runtime settings of {@code image} (Env, Cmd, Entrypoint, WorkingDir, User, ports). */
    public ImageConfig config(ImageRecord image) {
        return ImageConfig.parse(readBlob(image.configDigest()), "Config of " + image.reference());
    }

    /** The layer blob files of {@code image}, base first, for the rootfs builder. */
    public List<Path> layerPaths(ImageRecord image) {
        var paths = new ArrayList<Path>();
        for (Descriptor layer : image.layers()) {
            if (!hasBlob(layer.digest())) {
                throw new NotFoundException("Layer " + layer.digest() + " of "
                        + image.reference() + " is missing: pull the image again");
            }
            paths.add(blobPath(layer.digest()));
        }
        return paths;
    }

    /**
     * Removes the tag {@code text} (a reference, or an image id, which removes all its tags).
     * Blobs stay until {@link #gc}. An image pinned by a holder keeps its last tag unless
     * {@code force}; forced, the blobs still stay while pinned.
     *
     * @return the removed tags
     * @throws NotFoundException if no image matches
     * @throws InvalidStateException if the image is pinned and {@code force} is false
     */
    public List<ImageRecord> remove(String text, boolean force) {
        return withLock(() -> {
            ImageRecord image = resolve(text);
            List<ImageRecord> targets = findById(text).isPresent()
                    ? db.byManifest(image.manifestDigest()) : List.of(image);
            Set<String> holders = db.pins().getOrDefault(image.manifestDigest(), Set.of());
            int remaining = db.byManifest(image.manifestDigest()).size() - targets.size();
            if (!holders.isEmpty() && remaining == 0 && !force) {
                throw new InvalidStateException("Image " + image.reference() + " is in use by "
                        + String.join(", ", holders) + ": remove those first, or force");
            }
            for (ImageRecord target : targets) {
                db.delete(target.reference());
            }
            writeIndex();
            return targets;
        });
    }

    /** Every blob {@code image} references: its manifest, config and layers. */
    public Set<Digest> blobsOf(ImageRecord image) {
        var blobs = new TreeSet<Digest>();
        blobs.add(image.manifestDigest());
        blobs.add(image.configDigest());
        image.layers().forEach(l -> blobs.add(l.digest()));
        return blobs;
    }

    /** Pins an image's blobs for {@code holder} (e.g. {@code "box:<id>"}); idempotent. */
    public void pin(Digest manifest, String holder) {
        Objects.requireNonNull(holder, "holder");
        withLock(() -> {
            if (!hasBlob(manifest)) {
                throw new NotFoundException("Cannot pin " + manifest + ": it is not in the store");
            }
            db.pin(manifest, holder);
            return null;
        });
    }

    /** Releases {@code holder}'s pin; returns whether there was one. */
    public boolean unpin(Digest manifest, String holder) {
        return withLock(() -> db.unpin(manifest, holder));
    }

    /** Pinned manifests and who holds them. */
    public Map<Digest, Set<String>> pins() {
        return db.pins();
    }

    /** Manifests that are tagged or pinned: everything {@link #gc} keeps. */
    public Set<Digest> liveManifests() {
        var live = new TreeSet<Digest>();
        list().forEach(r -> live.add(r.manifestDigest()));
        live.addAll(db.pins().keySet());
        return live;
    }

    /** Garbage collection with {@link #DEFAULT_GC_GRACE}. */
    public GcResult gc() {
        return gc(DEFAULT_GC_GRACE);
    }

    /**
     * Deletes blobs no tagged or pinned image references, and abandoned partial downloads.
     * Blobs and partials modified within {@code grace} are kept: a pull in another process
     * may have fetched them and not yet tagged its image. Runs under the store lock.
     */
    public GcResult gc(Duration grace) {
        return gc(grace, Set.of());
    }

    /**
     * Garbage collection in which unreferenced blobs listed in {@code eager} go regardless of
     * their age: {@code rmi} passes the blobs of the images it untagged, so their space is freed
     * at once while blobs of pulls in flight stay protected by {@code grace}.
     */
    public GcResult gc(Duration grace, Set<Digest> eager) {
        Objects.requireNonNull(grace, "grace");
        Objects.requireNonNull(eager, "eager");
        return withLock(() -> {
            Set<Digest> keep = new HashSet<>();
            for (Digest manifest : liveManifests()) {
                keep.add(manifest);
                if (!hasBlob(manifest)) {
                    continue;
                }
                ManifestDocument doc = ManifestDocument.parse(readBlob(manifest), Optional.empty(),
                        "Manifest " + manifest);
                if (doc instanceof ImageManifest m) {
                    m.blobs().forEach(b -> keep.add(b.digest()));
                }
            }
            Instant cutoff = Instant.now().minus(grace);
            var removed = new ArrayList<Digest>();
            long freed = 0;
            int kept = 0;
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(blobs)) {
                for (Path entry : entries) {
                    String name = entry.getFileName().toString();
                    if (!HEX.matcher(name).matches()) {
                        continue; // why: not ours; a layout may hold foreign files
                    }
                    Digest digest = new Digest(name);
                    BasicFileAttributes attrs = Files.readAttributes(entry,
                            BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    if (keep.contains(digest) || !eager.contains(digest)
                            && attrs.lastModifiedTime().toInstant().isAfter(cutoff)) {
                        kept++;
                        continue;
                    }
                    Files.delete(entry);
                    removed.add(digest);
                    freed += attrs.size();
                }
            } catch (IOException e) {
                throw new StorageException("Garbage collection of " + blobs + " failed", e);
            }
            pruneRootfs(keep);
            return new GcResult(removed, freed, removePartials(cutoff), kept);
        });
    }

    /** Deletes ext4 bases of manifests not in {@code keep} (a pinned manifest's base stays). */
    private void pruneRootfs(Set<Digest> keep) throws IOException {
        if (!Files.isDirectory(rootfsDir(), LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(rootfsDir())) {
            for (Path entry : entries) {
                var m = ROOTFS_BASE.matcher(entry.getFileName().toString());
                if (m.matches() && !keep.contains(new Digest(m.group(1)))) {
                    Files.deleteIfExists(entry);
                }
            }
        }
    }

    private int removePartials(Instant cutoff) throws IOException {
        int removed = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(home.tmp().resolve("ingest"))) {
            for (Path entry : entries) {
                var m = PARTIAL.matcher(entry.getFileName().toString());
                if (m.matches()
                        && Files.getLastModifiedTime(entry).toInstant().isBefore(cutoff)
                        && ingest.idle(new Digest(m.group(1)))) {
                    Files.deleteIfExists(entry);
                    removed++;
                }
            }
        }
        return removed;
    }

    /**
     * Runs {@code action} holding the store lock, which tagging, removal, pinning and GC take:
     * for components that keep caches derived from images consistent with {@link #gc}.
     */
    public <T> T withLock(LockedAction<T> action) {
        try (var held = FileLocks.acquire(storeLock, 0, lockTimeout, "the image store lock")) {
            return action.run();
        } catch (IOException e) {
            throw new StorageException("Image store operation failed in " + layout, e);
        }
    }

    /** An action run under the store lock. */
    @FunctionalInterface
    public interface LockedAction<T> {
        T run() throws IOException;
    }

    /**
     * Rewrites {@code index.json} from the database: one entry per tag, annotated with
     * {@code org.opencontainers.image.ref.name} = the canonical reference.
     */
    private void writeIndex() {
        ObjectNode index = Json.MAPPER.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", MediaTypes.OCI_INDEX);
        ArrayNode manifests = index.putArray("manifests");
        for (ImageRecord image : db.list()) {
            long size;
            try {
                size = Files.size(blobPath(image.manifestDigest()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            manifests.add(new Descriptor(image.mediaType(), image.manifestDigest(), size,
                    Optional.empty(), Map.of(Descriptor.REF_NAME, image.reference())).toJson());
        }
        home.staging().writeAtomically(layout.resolve("index.json"), Json.bytes(index));
    }

    /** Imports images from an OCI layout directory or a {@code docker save} archive. */
    public ArchiveImporter importer() {
        return new ArchiveImporter(this);
    }

    @Override
    public void close() {
        db.close();
    }
}
