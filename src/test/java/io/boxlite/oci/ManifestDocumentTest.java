package io.boxlite.oci;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManifestDocumentTest {
    private static final String D1 = "sha256:" + "1".repeat(64);
    private static final String D2 = "sha256:" + "2".repeat(64);
    private static final String D3 = "sha256:" + "3".repeat(64);

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String entry(String digest, String platform, String extra) {
        return "{\"mediaType\":\"" + MediaTypes.DOCKER_MANIFEST + "\",\"digest\":\"" + digest
                + "\",\"size\":10,\"platform\":" + platform + extra + "}";
    }

    @Test
    void dockerSchema2ManifestParsesWithConfigAndLayers() {
        byte[] data = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.DOCKER_MANIFEST
                + "\",\"config\":{\"mediaType\":\"" + MediaTypes.DOCKER_CONFIG + "\",\"digest\":\""
                + D1 + "\",\"size\":5},\"layers\":[{\"mediaType\":\"" + MediaTypes.DOCKER_LAYER_GZIP
                + "\",\"digest\":\"" + D2 + "\",\"size\":7}]}");
        var m = assertInstanceOf(ImageManifest.class,
                ManifestDocument.parse(data, Optional.empty(), "m"));
        assertEquals(D1, m.config().digest().toString());
        assertEquals(7, m.layers().getFirst().size());
        assertEquals(Digest.of(data), m.digest());
        assertEquals(data.length + 5 + 7, m.totalSize());
    }

    @Test
    void mediaTypeComesFromContentTypeWhenTheDocumentOmitsIt() {
        byte[] data = utf8("{\"schemaVersion\":2,\"manifests\":[]}");
        var index = ManifestDocument.parse(data,
                Optional.of(MediaTypes.DOCKER_LIST + "; charset=utf-8"), "i");
        assertEquals(MediaTypes.DOCKER_LIST, index.mediaType());
    }

    @Test
    void schema1IsRefusedClearly() {
        var e = assertThrows(ImageException.class, () -> ManifestDocument.parse(
                utf8("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}"),
                Optional.of(MediaTypes.DOCKER_SCHEMA1_SIGNED), "old:1"));
        assertTrue(e.getMessage().contains("Docker schema 1"), e.getMessage());
    }

    @Test
    void malformedDocumentsNameTheProblem() {
        assertTrue(assertThrows(ImageException.class, () -> ManifestDocument.parse(utf8("[1]"),
                Optional.empty(), "x")).getMessage().contains("not a JSON object"));
        assertTrue(assertThrows(ImageException.class, () -> ManifestDocument.parse(
                utf8("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST
                        + "\",\"config\":{\"mediaType\":\"a\",\"digest\":\"sha256:zz\",\"size\":1}}"),
                Optional.empty(), "x")).getMessage().contains("Invalid digest"));
        assertTrue(assertThrows(ImageException.class, () -> ManifestDocument.parse(
                utf8("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.cncf.helm.chart\"}"),
                Optional.empty(), "x")).getMessage().contains("unsupported media type"));
    }

    @Test
    void indexSelectionPrefersTheExactVariantAndSkipsAttestations() {
        byte[] data = utf8("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX
                + "\",\"manifests\":["
                + entry(D1, "{\"os\":\"linux\",\"architecture\":\"arm64\"}", "") + ","
                + entry(D2, "{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}", "")
                + "," + entry(D3, "{\"os\":\"unknown\",\"architecture\":\"unknown\"}",
                ",\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}")
                + "]}");
        var index = assertInstanceOf(ImageIndex.class,
                ManifestDocument.parse(data, Optional.empty(), "i"));
        assertEquals(D2, index.select(Platform.linuxFor("aarch64"), "i").digest().toString());
        assertEquals(D1, index.select(Platform.of("linux", "arm64"), "i").digest().toString());
        var e = assertThrows(ImageException.class,
                () -> index.select(Platform.linuxFor("amd64"), "i"));
        assertTrue(e.getMessage().endsWith("it offers: linux/arm64, linux/arm64/v8"),
                e.getMessage());
    }

    @Test
    void hostArchitectureMapsToGoNames() {
        assertEquals("linux/amd64", Platform.linuxFor("amd64").toString());
        assertEquals("linux/amd64", Platform.linuxFor("x86_64").toString());
        assertEquals("linux/arm64/v8", Platform.linuxFor("aarch64").toString());
    }

    @Test
    void imageConfigExposesWhatTheRuntimeNeeds() {
        var config = ImageConfig.parse(utf8("{\"architecture\":\"amd64\",\"os\":\"linux\","
                + "\"config\":{\"Env\":[\"A=1\"],\"Entrypoint\":[\"/init\"],\"Cmd\":[\"run\"],"
                + "\"WorkingDir\":\"/srv\",\"User\":\"app\",\"ExposedPorts\":{\"80/tcp\":{}},"
                + "\"Labels\":{\"k\":\"v\"}}}"), "c");
        assertEquals(java.util.List.of("A=1"), config.env());
        assertEquals(java.util.List.of("/init"), config.entrypoint());
        assertEquals(java.util.List.of("run"), config.cmd());
        assertEquals(Optional.of("/srv"), config.workingDir());
        assertEquals(Optional.of("app"), config.user());
        assertEquals(java.util.Set.of("80/tcp"), config.exposedPorts());
        assertEquals("v", config.labels().get("k"));
        var bare = ImageConfig.parse(utf8("{\"architecture\":\"amd64\",\"os\":\"linux\"}"), "c");
        assertTrue(bare.cmd().isEmpty() && bare.workingDir().isEmpty());
        assertThrows(ImageException.class, () -> ImageConfig.parse(
                utf8("{\"config\":{\"Env\":\"A=1\"}}"), "c"));
    }
}
