package io.boxlite.oci.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.NotFoundException;
import io.boxlite.StorageException;
import io.boxlite.home.Staging;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageIndex;
import io.boxlite.oci.ImageManifest;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Json;
import io.boxlite.oci.ManifestDocument;
import io.boxlite.oci.MediaTypes;
import io.boxlite.oci.Platform;
import io.boxlite.oci.RetryPolicy;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Imports images without a registry, for offline users: from an OCI image layout directory, or
 * from a {@code docker save} tarball (the classic {@code manifest.json} form, and the OCI layout
 * that Docker 25+ writes inside it). Every blob is verified against its digest on the way in;
 * manifests that exist in the source are kept byte for byte, and for the classic form an OCI
 * manifest is written (its uncompressed layers' digests are checked against the config's
 * {@code rootfs.diff_ids}).
 *
 * {@snippet :
 * List<ImageRecord> images = store.importer().importDockerArchive(Path.of("app.tar"),
 *         Optional.empty(), Platform.host());
 * }
 */
public final class ArchiveImporter {
    /** containerd's (and Docker 25+'s) annotation with the full image name in index.json. */
    public static final String CONTAINERD_NAME = "io.containerd.image.name";

    private static final RetryPolicy NO_RETRY = new RetryPolicy(1, Duration.ZERO, Duration.ZERO);

    private final ImageStore store;

    ArchiveImporter(ImageStore store) {
        this.store = store;
    }

    /**
     * Imports from an OCI layout directory.
     *
     * @param refName  picks the {@code index.json} entry with this
     *                 {@code org.opencontainers.image.ref.name}; empty for every entry
     * @param as       the name to tag the image with; needed when the layout's own names are
     *                 bare tags such as {@code latest} (and only one image may be imported then)
     * @param platform the platform to pick from multi-platform entries
     * @throws ImageException if the layout is malformed, a blob does not match its digest, or
     *         a name is missing
     * @throws NotFoundException if {@code refName} is not in the layout
     */
    public List<ImageRecord> importLayout(Path dir, Optional<String> refName,
                                          Optional<ImageReference> as, Platform platform) {
        return importLayout(dir, refName, as, platform, Map.of());
    }

    /**
     * Imports from a {@code docker save} tarball.
     *
     * @param as the name to tag the image with instead of its RepoTags (the archive must then
     *           hold a single image)
     * @throws ImageException if the archive is malformed or unsafe (absolute names, {@code ..},
     *         links leaving it) or a blob does not match its digest
     */
    public List<ImageRecord> importDockerArchive(Path tarball, Optional<ImageReference> as,
                                                 Platform platform) {
        Path staged = store.home().staging().newStagingDir("import");
        try {
            extract(tarball, staged);
            Path manifestJson = staged.resolve("manifest.json");
            Map<Digest, List<String>> repoTags = Files.isRegularFile(manifestJson)
                    ? repoTagsByConfig(manifestJson) : Map.of();
            if (Files.isRegularFile(staged.resolve("index.json"))
                    && Files.isRegularFile(staged.resolve("oci-layout"))) {
                return importLayout(staged, Optional.empty(), as, platform, repoTags);
            }
            if (!Files.isRegularFile(manifestJson)) {
                throw new ImageException(tarball + " is not a docker save archive: it has neither "
                        + "manifest.json nor an OCI index.json");
            }
            return importClassic(staged, manifestJson, as, tarball.toString());
        } finally {
            deleteTree(staged);
        }
    }

    private List<ImageRecord> importLayout(Path dir, Optional<String> refName,
                                           Optional<ImageReference> as, Platform platform,
                                           Map<Digest, List<String>> repoTags) {
        Path layoutFile = dir.resolve("oci-layout");
        if (!Files.isRegularFile(layoutFile)) {
            throw new ImageException(dir + " is not an OCI image layout: oci-layout is missing");
        }
        String version = Json.requiredText(Json.object(read(layoutFile), layoutFile.toString()),
                "imageLayoutVersion", layoutFile.toString());
        if (!version.startsWith("1.")) {
            throw new ImageException(layoutFile + " declares layout version " + version
                    + "; only 1.x is supported");
        }
        Path indexFile = dir.resolve("index.json");
        ManifestDocument top = ManifestDocument.parse(read(indexFile), Optional.empty(),
                indexFile.toString());
        if (!(top instanceof ImageIndex index)) {
            throw new ImageException(indexFile + " is not an image index");
        }
        List<Descriptor> entries = index.manifests().stream()
                .filter(d -> refName.isEmpty()
                        || refName.get().equals(d.annotations().get(Descriptor.REF_NAME)))
                .filter(d -> !d.isAttestation())
                .toList();
        if (entries.isEmpty()) {
            throw refName.isPresent()
                    ? new NotFoundException("No image named '" + refName.get() + "' in " + dir)
                    : new ImageException(dir + " holds no images");
        }
        if (as.isPresent() && entries.stream().map(Descriptor::digest).distinct().count() > 1) {
            throw new InvalidArgumentException(dir + " holds " + entries.size() + " images; pick "
                    + "one by its ref name to import it under a name of your choice");
        }
        var records = new ArrayList<ImageRecord>();
        for (Descriptor entry : entries) {
            Optional<Digest> indexDigest = Optional.empty();
            Descriptor chosen = entry;
            if (MediaTypes.INDEXES.contains(entry.mediaType())) {
                byte[] nested = readBlob(dir, entry);
                ManifestDocument doc = ManifestDocument.parse(nested, Optional.of(entry.mediaType()),
                        "Index " + entry.digest() + " in " + dir);
                if (!(doc instanceof ImageIndex nestedIndex)) {
                    throw new ImageException("Index " + entry.digest() + " in " + dir
                            + " is not an index");
                }
                chosen = nestedIndex.select(platform, "Index " + entry.digest() + " in " + dir);
                indexDigest = Optional.of(entry.digest());
            }
            ImageManifest manifest = manifestOf(dir, chosen);
            List<ImageReference> names = as.map(List::of)
                    .orElseGet(() -> namesOf(entry, manifest, repoTags, dir));
            for (Descriptor blob : manifest.blobs()) {
                ingestFile(blobFile(dir, blob.digest()), blob);
            }
            for (ImageReference name : names) {
                records.add(store.commit(name, manifest, indexDigest));
            }
        }
        return records;
    }

    private List<ImageRecord> importClassic(Path dir, Path manifestJson,
                                            Optional<ImageReference> as, String what) {
        List<JsonNode> images = parseArray(manifestJson);
        if (as.isPresent() && images.size() != 1) {
            throw new InvalidArgumentException(what + " holds " + images.size()
                    + " images; import it without a name to keep their own tags");
        }
        var records = new ArrayList<ImageRecord>();
        for (int i = 0; i < images.size(); i++) {
            String entryWhat = what + " manifest.json[" + i + "]";
            JsonNode image = images.get(i);
            Path configFile = inside(dir, Json.requiredText(image, "Config", entryWhat));
            byte[] configBytes = read(configFile);
            Digest configDigest = Digest.of(configBytes);
            List<String> diffIds = Json.strings(Json.object(configBytes, entryWhat + " config")
                    .path("rootfs"), "diff_ids", entryWhat + " config");
            List<String> layerNames = Json.strings(image, "Layers", entryWhat);
            if (!diffIds.isEmpty() && diffIds.size() != layerNames.size()) {
                throw new ImageException(entryWhat + ": " + layerNames.size() + " layers but the "
                        + "config lists " + diffIds.size() + " diff_ids");
            }
            var layers = new ArrayList<Descriptor>();
            for (int l = 0; l < layerNames.size(); l++) {
                Path layerFile = inside(dir, layerNames.get(l));
                Digest digest = BlobIngest.hash(layerFile);
                String mediaType = layerMediaType(layerFile);
                if (mediaType.equals(MediaTypes.OCI_LAYER) && !diffIds.isEmpty()
                        && !diffIds.get(l).equals(digest.toString())) {
                    throw new ImageException(entryWhat + ": layer " + layerNames.get(l)
                            + " hashes to " + digest + " but the config says " + diffIds.get(l)
                            + "; the archive is corrupt");
                }
                layers.add(Descriptor.of(mediaType, digest, size(layerFile)));
            }
            ObjectNode manifestNode = Json.MAPPER.createObjectNode();
            manifestNode.put("schemaVersion", 2);
            manifestNode.put("mediaType", MediaTypes.OCI_MANIFEST);
            manifestNode.set("config", Descriptor.of(MediaTypes.OCI_CONFIG, configDigest,
                    configBytes.length).toJson());
            ArrayNode layerArray = manifestNode.putArray("layers");
            layers.forEach(d -> layerArray.add(d.toJson()));
            byte[] manifestBytes = Json.bytes(manifestNode);
            var manifest = (ImageManifest) ManifestDocument.parse(manifestBytes, Optional.empty(),
                    entryWhat);
            List<ImageReference> names = as.map(List::of).orElseGet(() -> {
                List<String> tags = Json.strings(image, "RepoTags", entryWhat);
                if (tags.isEmpty()) {
                    throw new InvalidArgumentException(entryWhat + " has no RepoTags: give the "
                            + "image a name to import it under");
                }
                return tags.stream().map(ImageReference::parse).toList();
            });
            store.ingest().putBytes(configDigest, configBytes, entryWhat + " config");
            for (int l = 0; l < layers.size(); l++) {
                ingestFile(inside(dir, layerNames.get(l)), layers.get(l));
            }
            for (ImageReference name : names) {
                records.add(store.commit(name, manifest, Optional.empty()));
            }
        }
        return records;
    }

    private List<ImageReference> namesOf(Descriptor entry, ImageManifest manifest,
                                         Map<Digest, List<String>> repoTags, Path dir) {
        String containerd = entry.annotations().get(CONTAINERD_NAME);
        if (containerd != null) {
            return List.of(ImageReference.parse(containerd));
        }
        List<String> tags = repoTags.getOrDefault(manifest.config().digest(), List.of());
        if (!tags.isEmpty()) {
            return tags.stream().map(ImageReference::parse).toList();
        }
        String refName = entry.annotations().get(Descriptor.REF_NAME);
        if (refName != null && (refName.contains("/") || refName.contains(":"))) {
            return List.of(ImageReference.parse(refName));
        }
        throw new InvalidArgumentException("Image " + entry.digest() + " in " + dir + " is named "
                + (refName == null ? "nothing" : "only '" + refName + "'")
                + ", which is not a full image reference: give it a name to import it under");
    }

    private ImageManifest manifestOf(Path dir, Descriptor descriptor) {
        byte[] data = readBlob(dir, descriptor);
        return switch (ManifestDocument.parse(data, Optional.of(descriptor.mediaType()),
                "Manifest " + descriptor.digest() + " in " + dir)) {
            case ImageManifest m -> m;
            case ImageIndex ignored -> throw new ImageException("Manifest " + descriptor.digest()
                    + " in " + dir + " is a nested index, which is not supported here");
        };
    }

    private void ingestFile(Path file, Descriptor blob) {
        store.ingest().fetch(blob, offset -> new BlobIngest.Opened(open(file), 0),
                BlobIngest.Progress.NONE, NO_RETRY, file.toString());
    }

    private static InputStream open(Path file) throws IOException {
        try {
            return Files.newInputStream(file);
        } catch (NoSuchFileException e) {
            throw new ImageException("Blob file " + file + " is missing", e);
        }
    }

    private static byte[] readBlob(Path dir, Descriptor descriptor) {
        byte[] data = read(blobFile(dir, descriptor.digest()));
        Digest actual = Digest.of(data);
        if (!actual.equals(descriptor.digest()) || data.length != descriptor.size()) {
            throw new ImageException("Blob " + descriptor.digest() + " in " + dir
                    + " does not match its descriptor (it hashes to " + actual + ", "
                    + data.length + " bytes)");
        }
        return data;
    }

    private static Path blobFile(Path dir, Digest digest) {
        return dir.resolve("blobs").resolve("sha256").resolve(digest.hex());
    }

    private static Map<Digest, List<String>> repoTagsByConfig(Path manifestJson) {
        var tags = new LinkedHashMap<Digest, List<String>>();
        for (JsonNode image : parseArray(manifestJson)) {
            String config = Json.requiredText(image, "Config", manifestJson.toString());
            String hex = Path.of(config).getFileName().toString().replaceFirst("\\.json$", "");
            if (hex.matches("[0-9a-f]{64}")) {
                tags.put(new Digest(hex), Json.strings(image, "RepoTags", manifestJson.toString()));
            }
        }
        return tags;
    }

    private static List<JsonNode> parseArray(Path file) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(read(file));
        } catch (IOException e) {
            throw new ImageException(file + " is not valid JSON", e);
        }
        if (root == null || !root.isArray()) {
            throw new ImageException(file + " is not a JSON array");
        }
        var list = new ArrayList<JsonNode>();
        root.forEach(list::add);
        return list;
    }

    private static String layerMediaType(Path file) {
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 4);
        } catch (IOException e) {
            throw new StorageException("Cannot read " + file, e);
        }
        if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
            return MediaTypes.OCI_LAYER_GZIP;
        }
        if (n == 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5
                && (head[2] & 0xff) == 0x2f && (head[3] & 0xff) == 0xfd) {
            return MediaTypes.OCI_LAYER_ZSTD;
        }
        return MediaTypes.OCI_LAYER;
    }

    /**
     * Extracts the archive's regular files and directories into {@code root}; symbolic and hard
     * links become hard links to files already inside. Names that are absolute, contain
     * {@code ..}, or links pointing outside are refused.
     */
    static void extract(Path tarball, Path root) {
        var links = new LinkedHashMap<Path, Path>();
        try (var tar = new TarArchiveInputStream(Files.newInputStream(tarball))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path target = safeName(root, entry.getName(), tarball);
                if (entry.isDirectory()) {
                    Files.createDirectories(target);
                } else if (entry.isSymbolicLink() || entry.isLink()) {
                    Path base = entry.isSymbolicLink() ? target.getParent() : root;
                    String linkName = entry.getLinkName();
                    if (linkName.startsWith("/")) {
                        throw unsafe(tarball, entry.getName() + " links to absolute " + linkName);
                    }
                    Path resolved = base.resolve(linkName).normalize();
                    if (!resolved.startsWith(root)) {
                        throw unsafe(tarball, entry.getName() + " links outside the archive");
                    }
                    links.put(target, resolved);
                } else if (entry.isFile()) {
                    Files.createDirectories(target.getParent());
                    Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
                } else {
                    throw unsafe(tarball, entry.getName() + " is neither a file, a directory "
                            + "nor a link");
                }
            }
        } catch (IOException e) {
            throw new ImageException("Cannot read " + tarball + " as a tar archive", e);
        }
        try {
            for (var link : links.entrySet()) {
                Path source = link.getValue();
                for (int hops = 0; links.containsKey(source) && hops < 16; hops++) {
                    source = links.get(source);
                }
                if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
                    throw unsafe(tarball, root.relativize(link.getKey()) + " links to something "
                            + "that is not a file in the archive");
                }
                Files.createDirectories(link.getKey().getParent());
                Files.deleteIfExists(link.getKey());
                Files.createLink(link.getKey(), source);
            }
        } catch (IOException e) {
            throw new StorageException("Cannot unpack " + tarball, e);
        }
    }

    private static Path safeName(Path root, String name, Path tarball) {
        if (name.startsWith("/") || name.contains("\0")) {
            throw unsafe(tarball, "entry '" + name + "' has an absolute or malformed name");
        }
        for (String part : name.split("/")) {
            if (part.equals("..")) {
                throw unsafe(tarball, "entry '" + name + "' contains '..'");
            }
        }
        Path target = root.resolve(name).normalize();
        if (!target.startsWith(root) || target.equals(root) && !name.matches("\\.?/?")) {
            throw unsafe(tarball, "entry '" + name + "' leaves the archive");
        }
        return target;
    }

    private static ImageException unsafe(Path tarball, String why) {
        return new ImageException("Refusing " + tarball + ": " + why);
    }

    private static Path inside(Path dir, String name) {
        Path path = dir.resolve(name).normalize();
        if (!path.startsWith(dir) || !Files.isRegularFile(path)) {
            throw new ImageException("Archive entry '" + name + "' named in manifest.json is "
                    + "missing or outside the archive");
        }
        return path;
    }

    private static byte[] read(Path file) {
        try {
            if (Files.size(file) > (16L << 20)) {
                throw new ImageException(file + " is too large for a metadata file");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ImageException(file + " is missing", e);
        } catch (IOException e) {
            throw new StorageException("Cannot read " + file, e);
        }
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new StorageException("Cannot read the size of " + file, e);
        }
    }

    private static void deleteTree(Path root) {
        try {
            Staging.deleteTree(root);
        } catch (IOException e) {
            System.getLogger(ArchiveImporter.class.getName()).log(System.Logger.Level.WARNING,
                    "Could not remove staged import " + root, e);
        }
    }
}
