package io.boxlite.runtime;

import io.boxlite.Box;
import io.boxlite.BoxCommand;
import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.Boxlite;
import io.boxlite.Options;
import io.boxlite.oci.fixtures.Fixtures;
import io.boxlite.oci.fixtures.RealRegistry;
import io.boxlite.oci.fixtures.Tools;
import io.boxlite.runtime.disk.BoxDisks;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end on a real VM (QEMU engine): an image pulled through the SDK from Debian's
 * docker-registry (token auth) on 127.0.0.1 becomes a box whose root disk is a qcow2 overlay of
 * the image's ext4 base, grown to {@code diskSizeGb} in the guest; writes survive stop/start and
 * {@code qemu-img check} and {@code e2fsck} accept the disk. One box, two boots.
 */
class RegistryBoxTest {
    private static final long GIB = 1L << 30;

    @TempDir
    static Path dir;

    @BeforeAll
    static void requirements() {
        BoxTestSupport.assumeBoxesCanRun();
        Tools.require("qemu-img");
    }

    private static String run(Box box, String... argv) throws Exception {
        try (var e = box.exec(BoxCommand.of(argv[0], Arrays.copyOfRange(argv, 1, argv.length)))) {
            e.stdin().close();
            String out = new String(e.stdout().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(e.stderr().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, e.waitFor().exitCode(), String.join(" ", argv) + ": " + out + err);
            return out;
        }
    }

    /** The root filesystem's total size in bytes, from {@code busybox df -k /} (the image links few applets). */
    private static long rootBytes(Box box) throws Exception {
        List<String> lines = run(box, "/bin/busybox", "df", "-k", "/").lines().toList();
        return Long.parseLong(lines.getLast().strip().split("\\s+")[1]) * 1024;
    }

    @Test
    void aPulledImageBootsAsAGrownQcow2BoxWhoseWritesSurviveStopAndStart() throws Exception {
        Fixtures.Images images = Fixtures.images();
        Path home = dir.resolve("home");
        try (RealRegistry registry = RealRegistry.withTokenAuth(Files.createDirectories(dir.resolve("registry")))) {
            registry.push("oci:" + images.layout() + ":busybox", "public/busybox:1.0", false);
            String image = registry.authority() + "/public/busybox:1.0";
            try (Boxlite runtime = Boxlite.open(Options.builder().home(home).build())) {
                assertTrue(runtime.core().images().list().isEmpty(), "the home starts empty: the box must pull");
                int tokensBefore = registry.tokens().authorizations.size();
                Box box = runtime.create(BoxOptions.builder().image(image).diskSizeGb(2).memoryMib(256)
                        .autoRemove(false).build(), "grown");
                assertTrue(registry.tokens().authorizations.size() > tokensBefore, "create pulled from the registry");
                assertEquals(images.busybox().digest(), runtime.core().images().find(image).orElseThrow()
                        .manifestDigest(), "the pulled manifest is the fixture's, byte for byte");
                Path boxDir = runtime.core().store().boxDir(box.id());

                long grown = rootBytes(box);
                assertTrue(grown > 19 * GIB / 10 && grown <= 2 * GIB,
                        "df shows ~2 GiB, not the image's size: " + grown);
                String console = Files.readString(boxDir.resolve("vm").resolve("console.log"));
                assertTrue(console.contains("root filesystem: grew to 524288 blocks"), console);
                // why: 300 MiB is more than the image's ext4 had free (256 MiB headroom), so it needs the growth
                run(box, "sh", "-c", "mkdir -p /data && echo kept > /data/note"
                        + " && busybox dd if=/dev/zero of=/data/big bs=1048576 count=300 2>/dev/null && busybox sync");
                box.stop();
                assertEquals(BoxState.STOPPED, box.info().state());

                assertEquals("kept\n", run(box, "cat", "/data/note"), "the write survived stop/start");
                String size = run(box, "/bin/busybox", "stat", "-c", "%s", "/data/big");
                assertEquals(300L << 20, Long.parseLong(size.strip()));
                assertEquals(grown, rootBytes(box), "the size stays after a restart");
                String again = Files.readString(boxDir.resolve("vm").resolve("console.log"));
                assertFalse(again.contains("root filesystem: growing"), "a grown disk is not grown again: " + again);
                box.stop();

                Path disk = BoxDisks.diskPath(boxDir);
                String info = Tools.run(List.of("qemu-img", "info", "--output=json", disk.toString()));
                assertTrue(info.contains("\"virtual-size\": " + 2 * GIB), info);
                assertTrue(info.contains("\"backing-filename-format\": \"raw\""), info);
                Tools.run(List.of("qemu-img", "check", disk.toString()));
                Path raw = dir.resolve("disk.raw");
                Tools.run(List.of("qemu-img", "convert", "-O", "raw", disk.toString(), raw.toString()));
                String fsck = Tools.run(List.of("/sbin/e2fsck", "-fn", raw.toString()));
                assertTrue(fsck.contains("/524288 blocks"), "the guest grew the ext4 to 2 GiB, cleanly: " + fsck);
                Files.delete(raw);
                runtime.remove("grown", false);
            }
        }
    }
}
