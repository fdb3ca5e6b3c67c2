package io.boxlite.oci.store;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.NotFoundException;
import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageManifest;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Json;
import io.boxlite.oci.MediaTypes;
import io.boxlite.oci.Platform;
import io.boxlite.oci.fixtures.Fixtures;
import io.boxlite.oci.fixtures.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageStoreTest {
    @TempDir
    Path tmp;

    private Fixtures.Images images;
    private BoxliteHome home;
    private ImageStore store;

    @BeforeEach
    void setUp() {
        images = Fixtures.images();
        home = BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build());
        store = ImageStore.open(home);
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    private ImageRecord importAs(String refName, String name) {
        List<ImageRecord> records = store.importer().importLayout(images.layout(),
                Optional.of(refName), Optional.of(ImageReference.parse(name)),
                Platform.of("linux", "amd64"));
        assertEquals(1, records.size());
        return records.getFirst();
    }

    @Test
    void newStoreIsAnEmptyValidLayout() throws IOException {
        assertEquals("{\"imageLayoutVersion\":\"1.0.0\"}",
                Files.readString(store.layout().resolve("oci-layout")));
        var index = Json.object(Files.readAllBytes(store.layout().resolve("index.json")), "index");
        assertEquals(2, index.get("schemaVersion").asInt());
        assertEquals(0, index.get("manifests").size());
        assertTrue(Files.isDirectory(store.layout().resolve("blobs/sha256")));
        assertTrue(Files.exists(home.db().resolve("images.db")));
    }

    @Test
    void importOfAnOciLayoutKeepsTheManifestByteForByteAndIndexesIt() throws IOException {
        ImageRecord image = importAs("busybox", "example.com/team/busybox:1");
        assertEquals(images.busybox().digest(), image.manifestDigest());
        assertArrayEquals(Files.readAllBytes(images.layout().resolve("blobs/sha256")
                .resolve(images.busybox().digest().hex())),
                Files.readAllBytes(store.blobPath(image.manifestDigest())));
        var index = Json.object(Files.readAllBytes(store.layout().resolve("index.json")), "index");
        var entry = index.get("manifests").get(0);
        assertEquals(images.busybox().digest().toString(), entry.get("digest").asText());
        assertEquals("example.com/team/busybox:1",
                entry.get("annotations").get(Descriptor.REF_NAME).asText());
        assertEquals(List.of(image), store.list());
        assertEquals(image, store.resolve(image.manifestDigest().hex().substring(0, 12)));
    }

    @Test
    void importingABareTagNeedsAName() {
        var e = assertThrows(InvalidArgumentException.class, () -> store.importer().importLayout(
                images.layout(), Optional.of("busybox"), Optional.empty(), Platform.host()));
        assertTrue(e.getMessage().contains("not a full image reference"), e.getMessage());
        assertThrows(NotFoundException.class, () -> store.importer().importLayout(images.layout(),
                Optional.of("nope"), Optional.empty(), Platform.host()));
    }

    @Test
    void importOfAMultiPlatformEntryPicksThePlatformAndRecordsTheIndex() {
        ImageRecord arm = store.importer().importLayout(images.layout(), Optional.of("multi"),
                Optional.of(ImageReference.parse("multi:arm")), Platform.linuxFor("aarch64"))
                .getFirst();
        assertEquals(images.arm64().digest(), arm.manifestDigest());
        assertEquals(Optional.of(images.multi().digest()), arm.indexDigest());
    }

    @Test
    void twoImagesSharingABaseLayerStoreItOnce() throws IOException {
        importAs("busybox", "busybox:1");
        importAs("extra", "extra:1");
        long blobs;
        try (var files = Files.list(store.layout().resolve("blobs/sha256"))) {
            blobs = files.count();
        }
        // busybox: manifest, config, base; extra: manifest, config, extra layer (base shared)
        assertEquals(6, blobs);
        assertEquals(2, store.list().size());
    }

    @Test
    void skopeoAndUmociAcceptTheStoreLayout() {
        Tools.require("skopeo");
        Tools.require("umoci");
        importAs("busybox", "127.0.0.1:5000/test/busybox:1.0");
        importAs("extra", "extra:1");
        String inspect = Tools.run(List.of("skopeo", "inspect",
                "oci:" + store.layout() + ":127.0.0.1:5000/test/busybox:1.0"));
        assertTrue(inspect.contains(images.busybox().digest().toString()), inspect);
        assertTrue(inspect.contains("\"Architecture\": \"amd64\""), inspect);
        String tags = Tools.run(List.of("umoci", "ls", "--layout", store.layout().toString()));
        assertEquals(Set.of("127.0.0.1:5000/test/busybox:1.0", "docker.io/library/extra:1"),
                Set.of(tags.strip().split("\n")));
        Tools.run(List.of("umoci", "stat", "--image",
                store.layout() + ":docker.io/library/extra:1"));
    }

    @Test
    void gcKeepsReferencedBlobsAndRemovesTheRest() throws IOException {
        ImageRecord busybox = importAs("busybox", "busybox:1");
        ImageRecord extra = importAs("extra", "extra:1");
        Path stray = store.ingest().partialFile(new Digest("ab".repeat(32)));
        Files.write(stray, new byte[10]);
        Files.setLastModifiedTime(stray, FileTime.from(Instant.now().minus(Duration.ofDays(1))));

        Path fresh = store.ingest().partialFile(new Digest("cd".repeat(32)));
        Files.write(fresh, new byte[10]);
        GcResult first = store.gc();
        assertEquals(0, first.removedBlobs().size(), "young blobs are kept by default");
        assertEquals(1, first.removedPartials(), "only the day-old partial download goes");
        assertFalse(Files.exists(stray));
        assertTrue(Files.exists(fresh));

        store.remove("extra:1", false);
        GcResult result = store.gc(Duration.ZERO);

        assertEquals(Set.of(extra.manifestDigest(), extra.configDigest(),
                images.extraLayer().digest()), Set.copyOf(result.removedBlobs()));
        assertEquals(1, result.removedPartials());
        assertFalse(Files.exists(fresh));
        for (Digest kept : List.of(busybox.manifestDigest(), busybox.configDigest(),
                images.baseLayer().digest())) {
            assertTrue(store.hasBlob(kept), kept + " kept");
        }
        assertEquals(3, result.keptBlobs());
        assertEquals(images.busybox().digest(), store.resolve("busybox:1").manifestDigest());
    }

    @Test
    void pinnedImageSurvivesRmiAndGcUntilUnpinned() {
        ImageRecord image = importAs("busybox", "busybox:1");
        store.pin(image.manifestDigest(), "box:web-1");

        var e = assertThrows(InvalidStateException.class, () -> store.remove("busybox:1", false));
        assertTrue(e.getMessage().contains("box:web-1"), e.getMessage());
        store.remove("busybox:1", true);
        assertTrue(store.list().isEmpty());
        assertEquals(0, store.gc(Duration.ZERO).removedBlobs().size());
        assertTrue(store.liveManifests().contains(image.manifestDigest()));
        assertEquals(images.baseLayer().digest(), store.manifest(image).layers().getFirst().digest());

        assertTrue(store.unpin(image.manifestDigest(), "box:web-1"));
        assertEquals(3, store.gc(Duration.ZERO).removedBlobs().size());
    }

    @Test
    void removeOfAnUnknownImageIsNotFound() {
        var e = assertThrows(NotFoundException.class, () -> store.remove("nothing:here", false));
        assertTrue(e.getMessage().contains("docker.io/library/nothing:here"), e.getMessage());
    }

    @Test
    void importOfADockerSaveArchive() {
        Path tar = Fixtures.dockerArchive("test/busybox:1.0");
        List<ImageRecord> records = store.importer().importDockerArchive(tar, Optional.empty(),
                Platform.host());
        assertEquals(1, records.size());
        ImageRecord image = records.getFirst();
        assertEquals("docker.io/test/busybox:1.0", image.reference());
        ImageManifest manifest = store.manifest(image);
        assertEquals(MediaTypes.OCI_MANIFEST, manifest.mediaType());
        assertEquals(1, manifest.layers().size());
        assertEquals(java.util.List.of("sh"), store.config(image).cmd());
        assertTrue(store.hasBlob(manifest.layers().getFirst().digest()));
        assertTrue(Files.exists(store.layerPaths(image).getFirst()));
    }

    @Test
    void importOfADockerSaveArchiveWithAnOciLayoutInsideKeepsItsManifest() throws IOException {
        Path tar = tmp.resolve("docker25.tar");
        Path layout = images.layout();
        String config = images.busybox().digest().hex();
        try (var out = new TarArchiveOutputStream(Files.newOutputStream(tar))) {
            add(out, "oci-layout", Files.readAllBytes(layout.resolve("oci-layout")));
            String index = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX
                    + "\",\"manifests\":[{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST
                    + "\",\"digest\":\"" + images.busybox().digest() + "\",\"size\":"
                    + images.busybox().size() + ",\"annotations\":{\"io.containerd.image.name\":"
                    + "\"docker.io/library/busybox:saved\",\"" + Descriptor.REF_NAME
                    + "\":\"saved\"}}]}";
            add(out, "index.json", index.getBytes(StandardCharsets.UTF_8));
            add(out, "manifest.json", ("[{\"Config\":\"blobs/sha256/" + config
                    + "\",\"RepoTags\":[\"busybox:saved\"],\"Layers\":[]}]").getBytes());
            for (Digest d : List.of(images.busybox().digest(), images.baseLayer().digest(),
                    configOf(images.busybox()))) {
                add(out, "blobs/sha256/" + d.hex(), Files.readAllBytes(
                        layout.resolve("blobs/sha256").resolve(d.hex())));
            }
        }
        ImageRecord image = store.importer().importDockerArchive(tar, Optional.empty(),
                Platform.host()).getFirst();
        assertEquals("docker.io/library/busybox:saved", image.reference());
        assertEquals(images.busybox().digest(), image.manifestDigest());
    }

    @Test
    void dockerArchiveWithAnEscapingEntryIsRefusedAndNothingIsWritten() throws IOException {
        Path tar = tmp.resolve("evil.tar");
        try (var out = new TarArchiveOutputStream(Files.newOutputStream(tar))) {
            add(out, "../../escaped.txt", "x".getBytes());
        }
        var e = assertThrows(ImageException.class, () -> store.importer()
                .importDockerArchive(tar, Optional.empty(), Platform.host()));
        assertTrue(e.getMessage().contains("contains '..'"), e.getMessage());
        assertFalse(Files.exists(home.tmp().resolve("../../escaped.txt").normalize()));
        try (var left = Files.list(home.tmp())) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith("staging-")));
        }
    }

    @Test
    void databaseFromANewerBoxliteIsRefusedWithAClearError() throws Exception {
        store.close();
        try (var c = DriverManager.getConnection("jdbc:sqlite:" + home.db().resolve("images.db"));
             var s = c.createStatement()) {
            s.execute("UPDATE schema_version SET version = 99");
        }
        var e = assertThrows(BoxliteException.class, () -> ImageStore.open(home));
        assertEquals(ErrorCode.DATABASE, e.code());
        assertTrue(e.getMessage().contains("newer than this BoxLite"), e.getMessage());
        store = ImageStore.open(BoxliteHome.resolve(Options.builder().home(tmp.resolve("h2")).build()));
    }

    private Digest configOf(Descriptor manifest) throws IOException {
        byte[] data = Files.readAllBytes(images.layout().resolve("blobs/sha256")
                .resolve(manifest.digest().hex()));
        return Json.digest(Json.object(data, "m").get("config"), "digest", "m");
    }

    private static void add(TarArchiveOutputStream out, String name, byte[] data)
            throws IOException {
        var entry = new TarArchiveEntry(name, true);
        entry.setSize(data.length);
        out.putArchiveEntry(entry);
        out.write(data);
        out.closeArchiveEntry();
    }
}
