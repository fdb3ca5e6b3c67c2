package io.boxlite.rootfs;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import io.boxlite.rootfs.TestImages.Layer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RootfsBuilderTest {
    /** A v2 file capability with CAP_SETUID (bit 7: byte 0x80, not valid UTF-8 on its own). */
    static final byte[] CAPABILITY = {0x01, 0x00, 0x00, 0x02, (byte) 0x80, 0x20, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    static final String ODD_NAME = "name with space \"quoted\" and ümlaut";

    @TempDir
    Path tmp;

    private BoxliteHome home;
    private ImageStore store;

    @BeforeEach
    void setUp() {
        home = BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build());
        store = ImageStore.open(home);
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    /** Three layers (gzip, zstd, plain tar) exercising every entry kind and OCI rule. */
    static List<Layer> richLayers() {
        var base = new RawTar()
                .dir("./", 0755, 0, 0)
                .dir("etc", 0755, 0, 0)
                .file("etc/passwd", 0644, 0, 0, utf8("root:x:0:0::/root:/bin/sh\n"))
                .file("etc/shadow", 0640, 0, 42, utf8("root:*:1::::::\n"))
                .dir("usr").dir("usr/bin")
                .file("usr/bin/sudo", 04755, 0, 0, utf8("#!sudo"))
                .file("usr/bin/wall", 02755, 0, 5, utf8("#!wall"))
                .dir("tmp", 01777, 0, 0)
                .dir("home").dir("home/user", 0700, 1000, 1000)
                .file("home/user/.profile", 0600, 1000, 1000, utf8("export A=1\n"))
                .file("home/user/big-ids", 0640, 100000, 4294967294L, utf8("ids"))
                .symlink("bin", "usr/bin")
                .file("usr/bin/python3.11", 0755, 0, 0, utf8("python"))
                .hardlink("usr/bin/python3", "usr/bin/python3.11")
                .dir("dev")
                .device("dev/null", '3', 0666, 0, 0, 1, 3)
                .device("dev/sda", '4', 0660, 0, 6, 8, 0)
                .dir("run")
                .fifo("run/initctl", 0620)
                .xattr("security.capability", CAPABILITY)
                .xattr("user.note", utf8("hello"))
                .file("usr/bin/ping", 0755, 0, 0, utf8("ping"))
                .dir("opaque")
                .file("opaque/old1", "old")
                .dir("opaque/sub").file("opaque/sub/old2", "old")
                .file("gone.txt", "bye")
                .dir("gonedir").file("gonedir/a", "a")
                .file(ODD_NAME, 0644, 0, 0, utf8("odd"))
                .file("ro.txt", 0444, 0, 0, utf8("read only"));
        var second = new RawTar()
                .file(".wh.gone.txt", "")
                .file(".wh.gonedir", "")
                .dir("opaque")
                .file("opaque/new", "new")
                .file("opaque/.wh..wh..opq", "")
                .dir("etc", 0750, 0, 0)
                .file("etc/passwd", 0644, 0, 0, utf8("root:x:0:0::/root:/bin/bash\n"));
        var third = new RawTar()
                .hardlink("usr/bin/python3-link", "usr/bin/python3.11")
                .file("dev/.wh.sda", "");
        return List.of(Layer.gzip(base), Layer.zstd(second), Layer.plain(third));
    }

    @Test
    void layersWithEveryEntryKindBuildTheExpectedExt4() {
        ImageRecord image = TestImages.image(store, tmp, "rich", richLayers());
        Rootfs rootfs = RootfsBuilder.create(store).build(image);
        assertTrue(rootfs.built());
        assertEquals(store.rootfsDir().resolve(image.manifestDigest().hex() + ".ext4"),
                rootfs.image());
        assertEquals(List.of("/bin/sh"), rootfs.config().cmd());
        assertRichImage(rootfs.image());
        assertNothingStaged();
    }

    static void assertRichImage(Path image) {
        String fsck = Ext4Inspector.fsck(image);
        assertTrue(fsck.startsWith("0\n"), "e2fsck -fn must find the image clean:\n" + fsck);
        var fs = new Ext4Inspector(image);
        Map<String, Ext4Inspector.Inode> all = fs.walk();

        assertEquals(040750, all.get("/etc").mode(), "a later layer's directory entry sets the mode");
        assertEquals("root:x:0:0::/root:/bin/bash\n", new String(fs.cat("/etc/passwd"),
                StandardCharsets.UTF_8), "a later layer's file replaces the earlier one");
        assertEquals(0100640, all.get("/etc/shadow").mode(), "directories merge across layers");
        assertEquals(42, all.get("/etc/shadow").gid());
        assertEquals(0104755, all.get("/usr/bin/sudo").mode());
        assertEquals(0102755, all.get("/usr/bin/wall").mode());
        assertEquals(5, all.get("/usr/bin/wall").gid());
        assertEquals(041777, all.get("/tmp").mode());
        assertEquals(040700, all.get("/home/user").mode());
        assertEquals(1000, all.get("/home/user").uid());
        assertEquals(1000, all.get("/home/user/.profile").gid());
        assertEquals(100000, all.get("/home/user/big-ids").uid(), "uids beyond 16 bits");
        assertEquals(4294967294L, all.get("/home/user/big-ids").gid());
        assertEquals(0120777, all.get("/bin").mode());
        assertTrue(fs.stat("/bin").contains("Fast link dest: \"usr/bin\""), fs.stat("/bin"));

        long ino = all.get("/usr/bin/python3.11").ino();
        assertEquals(ino, all.get("/usr/bin/python3").ino(), "a hard link shares the inode");
        assertEquals(ino, all.get("/usr/bin/python3-link").ino(), "also across layers");
        assertEquals(3, fs.links("/usr/bin/python3.11"));

        assertEquals(020666, all.get("/dev/null").mode());
        assertEquals("1:3", fs.device("/dev/null"));
        assertFalse(all.containsKey("/dev/sda"), "a whiteout removes a lower device node");
        assertEquals(010620, all.get("/run/initctl").mode());

        assertArrayEquals(CAPABILITY, fs.xattr("/usr/bin/ping", "security.capability"),
                "binary xattrs survive byte for byte");
        assertArrayEquals(utf8("hello"), fs.xattr("/usr/bin/ping", "user.note"));

        assertTrue(all.containsKey("/opaque/new"), "an opaque dir keeps its own layer's entries");
        assertFalse(all.containsKey("/opaque/old1"), "an opaque dir hides lower entries");
        assertFalse(all.containsKey("/opaque/sub"));
        assertFalse(all.containsKey("/gone.txt"));
        assertFalse(all.containsKey("/gonedir"));
        assertFalse(all.containsKey("/gonedir/a"));
        assertFalse(all.keySet().stream().anyMatch(p -> p.contains(".wh.")),
                "whiteout files are never materialised: " + all.keySet());

        assertArrayEquals(utf8("odd"), fs.cat("/" + ODD_NAME));
        assertEquals(0100444, all.get("/ro.txt").mode());
        assertEquals(0, all.get("/ro.txt").uid());
        assertEquals(RawTar.MTIME, fs.mtime("/usr/bin/sudo"));
        assertEquals(RawTar.MTIME, fs.mtime("/bin"));
        assertEquals(RawTar.MTIME, fs.mtime("/dev/null"));
        assertEquals(040755, all.get("/usr").mode(), "directories keep their declared mode");
    }

    @Test
    void aSecondBuildReturnsTheCachedBase() throws IOException {
        ImageRecord image = TestImages.image(store, tmp, "cached", richLayers());
        var builder = RootfsBuilder.create(store);
        Rootfs first = builder.build(image);
        var modified = Files.getLastModifiedTime(first.image());
        Rootfs second = builder.build(image.manifestDigest());
        assertFalse(second.built());
        assertEquals(first.image(), second.image());
        assertEquals(modified, Files.getLastModifiedTime(second.image()));
        assertEquals(Optional.of(first.image()), builder.cached(image.manifestDigest()));
    }

    @Test
    void twoThreadsBuildingOneImageBuildItOnce() throws Exception {
        ImageRecord image = TestImages.image(store, tmp, "threads", richLayers());
        var builder = RootfsBuilder.create(store);
        try (var pool = Executors.newFixedThreadPool(2)) {
            Callable<Rootfs> task = () -> builder.build(image);
            List<Future<Rootfs>> results = List.of(pool.submit(task), pool.submit(task));
            int built = 0;
            for (var f : results) {
                built += f.get().built() ? 1 : 0;
            }
            assertEquals(1, built, "exactly one of the two builds the base");
        }
        assertRichImage(builder.basePath(image.manifestDigest()));
    }

    @Test
    void twoProcessesBuildingOneImageBuildItOnce() throws Exception {
        ImageRecord image = TestImages.image(store, tmp, "procs", richLayers());
        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            processes.add(ChildJvm.builder(home.root(), image.manifestDigest().toString(),
                    Optional.empty()).start());
        }
        int built = 0;
        for (Process p : processes) {
            String out = ChildJvm.await(p);
            assertTrue(out.contains("path="), out);
            built += out.contains("built=true") ? 1 : 0;
        }
        assertEquals(1, built, "exactly one of the two processes builds the base");
        assertRichImage(RootfsBuilder.create(store).basePath(image.manifestDigest()));
    }

    @Test
    void anUnprivilegedUserBuildsTheSameImage() throws Exception {
        ChildJvm.requireRootForSetpriv();
        ImageRecord image = TestImages.image(store, tmp, "nonroot", richLayers());
        Path asRoot = RootfsBuilder.create(store).build(image).image();

        Path otherHome = ChildJvm.unprivilegedHome(tmp.resolve("nonroot-home"));
        try {
            var other = BoxliteHome.resolve(Options.builder().home(otherHome).build());
            try (var otherStore = ImageStore.open(other)) {
                TestImages.image(otherStore, tmp.resolve("other-layout"), "nonroot", richLayers());
            }
            ChildJvm.chownTree(otherHome, 65534);
            String out = ChildJvm.await(ChildJvm.builder(otherHome,
                    image.manifestDigest().toString(), Optional.of(65534)).start());
            assertTrue(out.contains("uid=65534"), "the child must run as nobody:\n" + out);
            assertTrue(out.contains("built=true"), out);
            Path asNobody = otherHome.resolve("images/rootfs/" + image.manifestDigest().hex() + ".ext4");
            assertEquals(65534, (int) Files.getAttribute(asNobody, "unix:uid"));

            assertRichImage(asNobody);
            assertEquals(new Ext4Inspector(asRoot).describeAll(),
                    new Ext4Inspector(asNobody).describeAll(),
                    "owners, modes, devices and xattrs match the root build's");
        } finally {
            ChildJvm.deleteQuietly(otherHome.getParent());
        }
    }

    @Test
    void aLayerThatDoesNotMatchItsDiffIdIsRefused() {
        var good = new RawTar().file("a", "a");
        var evil = new RawTar().file("a", "b");
        var layer = new Layer(Layer.gzip(evil).mediaType(), evil.gzip(), good.tar());
        ImageRecord image = TestImages.image(store, tmp, "diffid", List.of(layer));
        var e = assertThrows(ImageException.class,
                () -> RootfsBuilder.create(store).build(image));
        assertTrue(e.getMessage().contains("diff_id"), e.getMessage());
        assertNothingStaged();
        assertFalse(Files.exists(RootfsBuilder.create(store).basePath(image.manifestDigest())));
    }

    @Test
    void gcRemovesTheBaseOfAnUntaggedImageButKeepsAPinnedOne() {
        ImageRecord kept = TestImages.image(store, tmp, "pinned", List.of(
                Layer.gzip(new RawTar().file("kept", "k"))));
        ImageRecord dropped = TestImages.image(store, tmp, "dropped", List.of(
                Layer.gzip(new RawTar().file("dropped", "d"))));
        var builder = RootfsBuilder.create(store);
        Path keptBase = builder.build(kept).image();
        Path droppedBase = builder.build(dropped).image();
        store.pin(kept.manifestDigest(), "box:test");
        store.remove(kept.reference(), true);
        store.remove(dropped.reference(), false);
        store.gc(Duration.ZERO);
        assertTrue(Files.exists(keptBase), "a pinned image's base backs a box and stays");
        assertFalse(Files.exists(droppedBase), "an unreferenced image's base goes with it");
        store.unpin(kept.manifestDigest(), "box:test");
        store.gc(Duration.ZERO);
        assertFalse(Files.exists(keptBase));
    }

    @Test
    void theBusyboxFixtureBuildsAndPassesFsck() {
        var images = io.boxlite.oci.fixtures.Fixtures.images();
        ImageRecord image = store.importer().importLayout(images.layout(), Optional.of("busybox"),
                Optional.of(io.boxlite.oci.ImageReference.parse("busybox")),
                io.boxlite.oci.Platform.of("linux", "amd64")).getFirst();
        Rootfs rootfs = RootfsBuilder.create(store).build(image);
        String fsck = Ext4Inspector.fsck(rootfs.image());
        assertTrue(fsck.startsWith("0\n"), fsck);
        var fs = new Ext4Inspector(rootfs.image());
        var all = fs.walk();
        assertEquals(0100755, all.get("/bin/busybox").mode());
        assertEquals(0120777, all.get("/bin/sh").mode());
        assertArrayEquals(readAll(io.boxlite.oci.fixtures.Fixtures.BUSYBOX), fs.cat("/bin/busybox"));
    }

    private void assertNothingStaged() {
        try (var entries = Files.list(home.tmp())) {
            List<String> left = entries.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("staging-")).toList();
            assertEquals(List.of(), left, "nothing may be left in tmp/");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] readAll(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
