package io.boxlite.rootfs;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.UnsupportedException;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import io.boxlite.rootfs.TestImages.Layer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hostile layers: each is refused with the layer and entry named, and nothing is left. */
class MaliciousLayerTest {
    @TempDir
    Path tmp;

    private BoxliteHome home;
    private ImageStore store;
    private Path outside;

    @BeforeEach
    void setUp() throws IOException {
        home = BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build());
        store = ImageStore.open(home);
        outside = Files.createDirectories(tmp.resolve("outside"));
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    /** A case: the layers (given the outside directory) and the entry the error must name. */
    record Case(String name, Function<Path, List<RawTar>> layers, String entry) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> unsafeLayers() {
        return Stream.of(
                new Case("dot-dot name", o -> List.of(new RawTar().file("../evil", "x")),
                        "../evil"),
                new Case("dot-dot in the middle", o -> List.of(new RawTar().dir("a")
                        .file("a/../../evil", "x")), "a/../../evil"),
                new Case("absolute name", o -> List.of(new RawTar().file(o + "/evil", "x")),
                        "outside/evil"),
                new Case("write through a symlink of the same layer", o -> List.of(new RawTar()
                        .symlink("link", o.toString()).file("link/evil", "x")), "link/evil"),
                new Case("write through a relative symlink", o -> List.of(new RawTar()
                        .symlink("up", "../../../../../../../..").file("up/evil", "x")),
                        "up/evil"),
                new Case("write through a symlink of an earlier layer", o -> List.of(
                        new RawTar().dir("etc").symlink("etc/conf", o.toString()),
                        new RawTar().file("etc/conf/evil", "x")), "etc/conf/evil"),
                new Case("directory through a symlink", o -> List.of(new RawTar()
                        .symlink("link", o.toString()).dir("link/sub")), "link/sub"),
                new Case("hard link with dot-dot", o -> List.of(new RawTar()
                        .hardlink("h", "../../../../etc/passwd")), "h"),
                new Case("hard link to an absolute path", o -> List.of(new RawTar()
                        .hardlink("h", "/etc/passwd")), "h"),
                new Case("hard link through a symlink", o -> List.of(new RawTar()
                        .symlink("root", "/").hardlink("h", "root/etc/passwd")), "h"),
                new Case("hard link to a missing file", o -> List.of(new RawTar()
                        .hardlink("h", "nothing-here")), "h"),
                new Case("hard link to itself", o -> List.of(new RawTar().hardlink("h", "h")),
                        "h"),
                new Case("hard link to a directory", o -> List.of(new RawTar().dir("d")
                        .hardlink("h", "d")), "h"),
                new Case("whiteout through a symlink", o -> List.of(new RawTar()
                        .symlink("link", o.toString()).file("link/.wh.victim", "")),
                        "link/.wh.victim"),
                new Case("whiteout of dot-dot", o -> List.of(new RawTar().dir("a")
                        .file("a/.wh..", "")), "a/.wh.."),
                new Case("non-directory root entry", o -> List.of(new RawTar().symlink("./", "x")),
                        "./"),
                new Case("newline in a name", o -> List.of(new RawTar().file("a\nb", "x")),
                        "a\\x0ab"))
                .map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("unsafeLayers")
    void anUnsafeLayerIsRefusedAndLeavesNothing(Case c) throws IOException {
        Path victim = Files.writeString(outside.resolve("victim"), "intact");
        List<Layer> layers = c.layers().apply(outside).stream().map(Layer::gzip).toList();
        ImageRecord image = TestImages.image(store, tmp, "evil", layers);
        var builder = RootfsBuilder.create(store);
        var e = assertThrows(UnsafeLayerException.class, () -> builder.build(image));
        assertTrue(e.getMessage().contains("Layer sha256:"), e.getMessage());
        assertTrue(e.getMessage().contains("entry '") && e.getMessage().contains(c.entry() + "'"),
                "the error names the entry: " + e.getMessage());
        assertEquals("intact", Files.readString(victim));
        try (var left = Files.list(outside)) {
            assertEquals(List.of(victim), left.toList(), "nothing was written outside");
        }
        assertNothingLeft(builder, image);
    }

    @Test
    void aFileReplacingASymlinkReplacesTheLinkNotItsTarget() throws IOException {
        Path victim = Files.writeString(outside.resolve("victim"), "intact");
        ImageRecord image = TestImages.image(store, tmp, "replace", List.of(
                Layer.gzip(new RawTar().symlink("f", victim.toString())),
                Layer.gzip(new RawTar().file("f", "new content"))));
        Rootfs rootfs = RootfsBuilder.create(store).build(image);
        assertEquals("intact", Files.readString(victim));
        var fs = new Ext4Inspector(rootfs.image());
        assertEquals(0100644, fs.walk().get("/f").mode());
        assertEquals("new content", new String(fs.cat("/f")));
    }

    @Test
    void aCorruptHeaderIsAClearError() {
        ImageRecord image = TestImages.image(store, tmp, "corrupt", List.of(Layer.gzip(
                new RawTar().file("ok", "fine").corruptHeader("bad"))));
        var builder = RootfsBuilder.create(store);
        var e = assertThrows(ImageException.class, () -> builder.build(image));
        assertTrue(e.getMessage().contains("bad checksum"), e.getMessage());
        assertNothingLeft(builder, image);
    }

    @Test
    void aTruncatedLayerIsAClearError() {
        var tar = new RawTar().file("big", 0644, 0, 0, new byte[5000]);
        byte[] cut = tar.truncated(2048);
        var layer = new Layer(io.boxlite.oci.MediaTypes.OCI_LAYER, cut, cut);
        ImageRecord image = TestImages.image(store, tmp, "truncated", List.of(layer));
        var builder = RootfsBuilder.create(store);
        var e = assertThrows(ImageException.class, () -> builder.build(image));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("'big'"),
                e.getMessage());
        assertNothingLeft(builder, image);
    }

    @Test
    void aSparseFileIsRefusedAsUnsupported() {
        var tar = new RawTar().entry("sparse", 'S', 0644, 0, 0, new byte[0], "", 0, 0);
        ImageRecord image = TestImages.image(store, tmp, "sparse", List.of(Layer.gzip(tar)));
        var builder = RootfsBuilder.create(store);
        var e = assertThrows(UnsupportedException.class, () -> builder.build(image));
        assertTrue(e.getMessage().contains("sparse"), e.getMessage());
        assertNothingLeft(builder, image);
    }

    @Test
    void aGzipBombFailsAtTheUnpackLimitNamingImageLayerAndLimitAndLeavesNothing() {
        var tar = new RawTar().file("bomb", 0644, 0, 0, new byte[16 << 20]);
        Layer layer = Layer.gzip(tar);
        assertTrue(layer.blob().length < 64 << 10, "16 MiB of zeros gzip to " + layer.blob().length + " bytes");
        ImageRecord image = TestImages.image(store, tmp, "bomb", List.of(layer));
        var builder = RootfsBuilder.create(store).withMaxUnpackedBytes(1 << 20);
        var e = assertThrows(BoxliteException.class, () -> builder.build(image));
        assertEquals(ErrorCode.RESOURCE_EXHAUSTED, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("Image " + image.manifestDigest()), e.getMessage());
        assertTrue(e.getMessage().contains("Layer sha256:") && e.getMessage().contains("(1 of 1)"), e.getMessage());
        assertTrue(e.getMessage().contains(String.valueOf(1 << 20)) && e.getMessage().contains("'bomb'"),
                e.getMessage());
        assertTrue(e.getMessage().contains("maxUnpackedBytes"), "says how to raise it: " + e.getMessage());
        assertNothingLeft(builder, image);
    }

    @Test
    void manySmallEntriesAcrossLayersStopOnceTheirTotalPassesTheLimit() {
        var lower = new RawTar();
        var upper = new RawTar();
        for (int i = 0; i < 12; i++) {
            lower.file("low-" + i, 0644, 0, 0, new byte[64 << 10]);
        }
        for (int i = 0; i < 1000; i++) {
            upper.file("empty-" + i, "");
        }
        ImageRecord image = TestImages.image(store, tmp, "spread", List.of(Layer.gzip(lower), Layer.gzip(upper)));
        // why: each layer alone (~0.8 and ~0.5 MiB) fits in 1 MiB, both together do not; the empty
        // files declare nothing, so only the count of the unpacked stream (headers) can stop them
        var builder = RootfsBuilder.create(store).withMaxUnpackedBytes(1 << 20);
        var e = assertThrows(BoxliteException.class, () -> builder.build(image));
        assertEquals(ErrorCode.RESOURCE_EXHAUSTED, e.code());
        assertTrue(e.getMessage().contains("(2 of 2)") && e.getMessage().contains("passed the limit in entry 'empty-"),
                e.getMessage());
        assertNothingLeft(builder, image);

        Rootfs fits = RootfsBuilder.create(store).withMaxUnpackedBytes(4 << 20).build(image);
        assertTrue(Files.isRegularFile(fits.image()), "the same image builds under a higher limit");
    }

    @Test
    void theUnpackLimitComesFromOptionsThenTheEnvironmentThenTheDefault() {
        Options none = Options.defaults();
        assertEquals(RootfsBuilder.DEFAULT_MAX_UNPACKED_BYTES, RootfsBuilder.maxUnpackedBytes(none, Map.of()));
        assertEquals(1234, RootfsBuilder.maxUnpackedBytes(none, Map.of(RootfsBuilder.MAX_UNPACKED_ENV, "1234")));
        assertEquals(99, RootfsBuilder.maxUnpackedBytes(Options.builder().maxUnpackedBytes(99).build(),
                Map.of(RootfsBuilder.MAX_UNPACKED_ENV, "1234")));
        var bad = assertThrows(InvalidArgumentException.class, () -> RootfsBuilder.maxUnpackedBytes(none,
                Map.of(RootfsBuilder.MAX_UNPACKED_ENV, "12G")));
        assertTrue(bad.getMessage().startsWith(RootfsBuilder.MAX_UNPACKED_ENV + ":"), bad.getMessage());
        var negative = assertThrows(InvalidArgumentException.class,
                () -> Options.builder().maxUnpackedBytes(0).build());
        assertTrue(negative.getMessage().startsWith("maxUnpackedBytes:"), negative.getMessage());
        assertTrue(RootfsBuilder.DEFAULT_MAX_UNPACKED_BYTES >= 16L << 30, "the default is generous");
    }

    private void assertNothingLeft(RootfsBuilder builder, ImageRecord image) {
        assertFalse(Files.exists(builder.basePath(image.manifestDigest())));
        try (var entries = Files.list(home.tmp())) {
            assertEquals(List.of(), entries.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("staging-")).toList(), "nothing left in tmp/");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
