package io.boxlite.rootfs;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.fixtures.DebianFixture;
import io.boxlite.oci.fixtures.Tools;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Debian minbase + python3 fixture (debootstrap) as an ext4 base. */
class DebianRootfsTest {
    @TempDir
    Path tmp;

    @Test
    void theDebianPythonImageBuildsPassesFsckAndKeepsEveryOwnerModeAndDevice() throws Exception {
        DebianFixture.Image fixture = DebianFixture.image();
        var home = BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build());
        try (var store = ImageStore.open(home)) {
            ImageRecord image = store.importer().importLayout(fixture.layout(),
                    Optional.of(DebianFixture.TAG),
                    Optional.of(ImageReference.parse("test.local/debian-python:1")),
                    Platform.of("linux", "amd64")).getFirst();
            Rootfs rootfs = RootfsBuilder.create(store).build(image);
            assertEquals(List.of("python3"), rootfs.config().cmd());
            String fsck = Ext4Inspector.fsck(rootfs.image());
            assertTrue(fsck.startsWith("0\n"), fsck);

            var fs = new Ext4Inspector(rootfs.image());
            Map<String, Ext4Inspector.Inode> all = fs.walk();
            Map<String, TarEntry> expected = new HashMap<>();
            try (InputStream in = Files.newInputStream(fixture.layer())) {
                var reader = new TarReader(in, "fixture layer");
                for (var e = reader.next(); e.isPresent(); e = reader.next()) {
                    String name = e.get().name().replaceFirst("^\\./?", "");
                    name = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
                    if (!name.isEmpty()) {
                        expected.put("/" + name, e.get());
                    }
                }
            }
            int listed = Tools.run(List.of("tar", "-tf", fixture.layer().toString())).strip()
                    .split("\n").length;
            assertEquals(listed - 1, expected.size(), "every tar entry but ./ was read");
            int checked = 0;
            for (var e : expected.entrySet()) {
                Ext4Inspector.Inode inode = all.get(e.getKey());
                assertTrue(inode != null, "missing from the image: " + e.getKey());
                TarEntry entry = e.getValue();
                if (entry.type() != TarEntry.Type.HARDLINK) {
                    assertEquals(entry.mode(), inode.perms(), "mode of " + e.getKey());
                    assertEquals(entry.uid(), inode.uid(), "uid of " + e.getKey());
                    assertEquals(entry.gid(), inode.gid(), "gid of " + e.getKey());
                }
                checked++;
            }
            assertEquals(expected.size(), checked);
            // why: lost+found is mke2fs's; everything else came from the layer
            assertEquals(expected.size() + 1, all.size(), "no extra files in the image");

            assertEquals(020666, all.get("/dev/null").mode());
            assertEquals("1:3", fs.device("/dev/null"));
            assertEquals(0104755, all.get("/usr/bin/passwd").mode());
            assertEquals(0100640, all.get("/etc/shadow").mode());
            assertEquals(42, all.get("/etc/shadow").gid(), "group shadow");
            assertEquals(041777, all.get("/tmp").mode());
            assertTrue(all.containsKey("/usr/bin/python3"), "python3 is installed");

            // why: proves the contents too: python3 runs from a tree dumped out of the image
            Path dump = Files.createDirectories(tmp.resolve("dump"));
            Tools.run(List.of(Ext4Image.tool("debugfs"), "-R", "rdump / " + dump,
                    rootfs.image().toString()));
            String version = Tools.run(List.of("chroot", dump.toString(), "/usr/bin/python3",
                    "-c", "import sys, json; print('python', sys.version_info[0])"));
            assertTrue(version.contains("python 3"), version);
        }
    }
}
