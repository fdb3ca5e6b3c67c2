package io.boxlite.runtime.disk;

import io.boxlite.InvalidArgumentException;
import io.boxlite.disk.DiskImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class BoxDisksTest {
    @TempDir
    Path dir;

    @Test
    void zeroKeepsTheBaseSizeAndAnyOtherValueIsWholeGibibytes() {
        assertEquals(300L << 20, BoxDisks.virtualSize(0, 300L << 20, "img"));
        assertEquals(2L << 30, BoxDisks.virtualSize(2, 300L << 20, "img"));
        assertEquals(1L << 30, BoxDisks.virtualSize(1, 1L << 30, "img"), "exactly the base's size is fine");
    }

    @Test
    void aDiskSmallerThanTheImageIsAnInvalidArgumentNamingTheFieldAndTheLeastSize() {
        var e = assertThrows(InvalidArgumentException.class,
                () -> BoxDisks.virtualSize(1, (3L << 30) / 2, "localhost/big:1"));
        assertTrue(e.getMessage().startsWith("diskSizeGb: 1 GiB is smaller than the root filesystem of "
                + "localhost/big:1 (1536 MiB)"), e.getMessage());
        assertTrue(e.getMessage().contains("at least 2"), e.getMessage());
    }

    @Test
    void theOverlayHasTheRequestedVirtualSizeReadsTheBaseAndIsCleanForQemuImg() throws Exception {
        Path base = dir.resolve("base.ext4");
        try (var raf = new RandomAccessFile(base.toFile(), "rw")) {
            raf.setLength(4L << 20);
            raf.seek(4096);
            raf.write("base data".getBytes(StandardCharsets.UTF_8));
        }
        Path box = Files.createDirectories(dir.resolve("box"));
        BoxDisks.prepare(box, base, BoxDisks.virtualSize(1, Files.size(base), "img"));
        try (DiskImage disk = BoxDisks.open(box)) {
            assertEquals(1L << 30, disk.size());
            ByteBuffer head = ByteBuffer.allocate(9);
            disk.read(4096, head);
            assertEquals("base data", new String(head.array(), StandardCharsets.UTF_8));
            disk.write((1L << 30) - 512, ByteBuffer.wrap("end of the grown disk".getBytes(StandardCharsets.UTF_8)));
        }
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img (qemu-utils) is needed: bin/setup");
        String info = qemuImg("info", "--output=json", BoxDisks.diskPath(box).toString());
        assertTrue(info.contains("\"virtual-size\": " + (1L << 30)), info);
        assertTrue(info.contains("\"backing-filename-format\": \"raw\""), info);
        qemuImg("check", BoxDisks.diskPath(box).toString());
    }

    @Test
    void theBaseIsRecordedRelativeToTheBoxSoTheWholeHomeCanMove() throws Exception {
        Path home = dir.resolve("home");
        Path base = Files.createDirectories(home.resolve("images/rootfs")).resolve("abc.ext4");
        try (var raf = new RandomAccessFile(base.toFile(), "rw")) {
            raf.setLength(1L << 20);
            raf.write("image bytes".getBytes(StandardCharsets.UTF_8));
        }
        Path box = Files.createDirectories(home.resolve("boxes/01BOX"));
        BoxDisks.prepare(box, base, BoxDisks.virtualSize(0, Files.size(base), "img"));
        try (DiskImage disk = BoxDisks.open(box)) {
            disk.write(512, ByteBuffer.wrap("box bytes".getBytes(StandardCharsets.UTF_8)));
        }

        Path moved = dir.resolve("elsewhere/home");
        Files.createDirectories(moved.getParent());
        Files.move(home, moved);

        try (DiskImage disk = BoxDisks.open(moved.resolve("boxes/01BOX"))) {
            ByteBuffer image = ByteBuffer.allocate(11);
            ByteBuffer written = ByteBuffer.allocate(9);
            disk.read(0, image);
            disk.read(512, written);
            assertEquals("image bytes", new String(image.array(), StandardCharsets.UTF_8));
            assertEquals("box bytes", new String(written.array(), StandardCharsets.UTF_8));
        }
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img (qemu-utils) is needed: bin/setup");
        String info = qemuImg("info", "--output=json", moved.resolve("boxes/01BOX/disk.qcow2").toString());
        assertTrue(info.contains("\"backing-filename\": \"../../images/rootfs/abc.ext4\""), info);
        qemuImg("check", moved.resolve("boxes/01BOX/disk.qcow2").toString());
    }

    @Test
    void theAgentsWordsOnAFailedGrowthAreFoundOnTheConsoleAndNothingElse() throws IOException {
        Path console = dir.resolve("console.log");
        Files.writeString(console, """
                [    1.2] EXT4-fs (vda): mounted filesystem
                boxlite-agent[1]: root filesystem: growing from 65536 to 262144 blocks of 1024 bytes
                resize2fs: applet not found
                boxlite-agent[1]: root filesystem: cannot grow it: resize2fs exited with 127; it stays at 65536 blocks
                boxlite-agent[57]: root filesystem: cannot grow it: not from PID 1
                boxlite-agent[1]: listening on vsock port 1024
                """);
        assertEquals(List.of("root filesystem: cannot grow it: resize2fs exited with 127; it stays at 65536 blocks"),
                BoxDisks.growthFailures(console));
        Files.writeString(console, "boxlite-agent[1]: root filesystem: grew to 262144 blocks\n");
        assertEquals(List.of(), BoxDisks.growthFailures(console));
        assertEquals(List.of(), BoxDisks.growthFailures(dir.resolve("absent.log")));
    }

    private static String qemuImg(String... args) throws IOException, InterruptedException {
        var command = new java.util.ArrayList<String>();
        command.add("/usr/bin/qemu-img");
        command.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", command) + ":\n" + out);
        return out;
    }
}
