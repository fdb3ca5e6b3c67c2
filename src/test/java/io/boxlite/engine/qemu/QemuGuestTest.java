package io.boxlite.engine.qemu;

import io.boxlite.Options;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.ExecResult;
import io.boxlite.agent.Execution;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.agent.ShutdownAction;
import io.boxlite.disk.RawDiskImage;
import io.boxlite.disk.qcow2.BackingFormat;
import io.boxlite.disk.qcow2.Qcow2Image;
import io.boxlite.guest.Initramfs;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real box on the QEMU engine: the Debian kernel, our initramfs with the agent as init, a
 * root disk served by our virtio-blk and the agent reached through our virtio-vsock, both over
 * vhost-user. Commands run in the guest and the disk keeps what they wrote.
 */
class QemuGuestTest {
    static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    private static final Duration BOOT = Duration.ofSeconds(180);

    @TempDir
    static Path shared;
    private static Path initramfs;
    private static GuestKernel kernel;

    @BeforeAll
    static void prepare() {
        initramfs = prepareInitramfs(shared.resolve("home"));
        kernel = kernel();
    }

    /**
     * Skips (loudly) unless QEMU, busybox-static and e2fsprogs are installed, then builds the
     * box initramfs with the agent in a fresh home at {@code home}.
     */
    static Path prepareInitramfs(Path home) {
        boolean present = Files.isExecutable(QEMU) && Files.isExecutable(BUSYBOX) && Files.isExecutable(Path.of("/sbin/mke2fs"));
        if (!present) {
            System.err.println("*** SKIPPING QEMU box tests: qemu-system-x86, busybox-static or e2fsprogs missing (bin/setup) ***");
        }
        assumeTrue(present, "qemu-system-x86, busybox-static and e2fsprogs are needed");
        BoxliteHome opened = BoxliteHome.resolve(Options.builder().home(home).build()).open();
        return Initramfs.of(kernel(), GuestAgentBinary.bytes(), Initramfs.BOX_MODULES, Map.of()).build(opened);
    }

    /** The installed Debian cloud kernel. */
    static GuestKernel kernel() {
        return GuestKernel.locate(Options.defaults());
    }

    /** A 64 MiB ext4 root with busybox as every command, built by mke2fs from a directory. */
    static Path busyboxDisk(Path dir) throws IOException, InterruptedException {
        return busyboxDisk(dir, "64M");
    }

    /** A busybox ext4 root of {@code size} (mke2fs notation, e.g. {@code 128M}). */
    static Path busyboxDisk(Path dir, String size) throws IOException, InterruptedException {
        Path tree = Files.createDirectories(dir.resolve("tree"));
        for (String d : List.of("bin", "etc", "proc", "sys", "dev", "tmp", "run", "root")) {
            Files.createDirectories(tree.resolve(d));
        }
        Files.copy(BUSYBOX, tree.resolve("bin/busybox"));
        Process list = new ProcessBuilder(BUSYBOX.toString(), "--list").start();
        for (String applet : new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) {
                Files.createSymbolicLink(tree.resolve("bin").resolve(applet.strip()), Path.of("busybox"));
            }
        }
        list.waitFor();
        Files.writeString(tree.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
        Files.writeString(tree.resolve("etc/group"), "root:x:0:\nnogroup:x:65534:\n");
        Path image = dir.resolve("root.ext4");
        Process mkfs = new ProcessBuilder("/sbin/mke2fs", "-q", "-t", "ext4", "-d", tree.toString(), image.toString(), size)
                .redirectErrorStream(true).start();
        String out = new String(mkfs.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, mkfs.waitFor(), "mke2fs: " + out);
        return image;
    }

    @Test
    void aQcow2OverlayKeepsTheBoxsWritesAcrossStopAndStartAndLeavesTheBaseAlone(@TempDir Path dir) throws Exception {
        Path base = busyboxDisk(dir);
        byte[] baseBefore = Files.readAllBytes(base);
        Path overlay = dir.resolve("disk.qcow2");
        Qcow2Image.createOverlay(overlay, base.getFileName().toString(), BackingFormat.RAW);

        bootRunAndPowerOff(dir, overlay, "echo survived > /root/kept && sync", "");
        String second = bootRunAndPowerOff(dir, overlay, "cat /root/kept", "survived\n");
        assertEquals("survived\n", second);

        assertArrayEquals(baseBefore, Files.readAllBytes(base), "the ext4 base is never written");
        Process check = new ProcessBuilder("qemu-img", "check", overlay.toString()).redirectErrorStream(true).start();
        String report = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, check.waitFor(), "qemu-img check: " + report);
    }

    @Test
    void aRootFilesystemThatCannotGrowIsLoggedAndTheGuestBootsOnItIntact(@TempDir Path dir) throws Exception {
        Path base = busyboxDisk(dir);
        Path overlay = dir.resolve("disk.qcow2");
        Qcow2Image.createOverlay(overlay, base.getFileName().toString(), BackingFormat.RAW, 256L << 20);
        // why: busybox as /sbin/resize2fs has no such applet and exits 127, a resize2fs that fails
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir.resolve("home")).build()).open();
        Path failing = Initramfs.of(kernel, GuestAgentBinary.bytes(), Initramfs.BOX_MODULES,
                Map.of(Initramfs.RESIZE2FS, Files.readAllBytes(BUSYBOX))).build(home);

        String df = bootRunAndPowerOff(dir, overlay, failing, "df -k / | tail -n 1", "");
        long kib = Long.parseLong(df.strip().split("\\s+")[1]);
        assertTrue(kib < 64 * 1024, "the filesystem kept its 64 MiB: " + df);
        String console = Files.readString(dir.resolve("box/console.log"));
        var growing = java.util.regex.Pattern.compile("root filesystem: growing from (\\d+) to (\\d+) blocks of "
                + "(\\d+) bytes").matcher(console);
        assertTrue(growing.find(), console);
        long from = Long.parseLong(growing.group(1));
        long block = Long.parseLong(growing.group(3));
        assertEquals(64L << 20, from * block, "the base's size");
        assertEquals(256L << 20, Long.parseLong(growing.group(2)) * block, "the disk's size");
        assertTrue(console.contains("root filesystem: cannot grow it: resize2fs exited with 127; it stays at " + from
                + " blocks"), console);

        Process check = new ProcessBuilder("qemu-img", "check", overlay.toString()).redirectErrorStream(true).start();
        String report = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, check.waitFor(), "qemu-img check: " + report);
        Path raw = dir.resolve("disk.raw");
        Process convert = new ProcessBuilder("qemu-img", "convert", "-O", "raw", overlay.toString(), raw.toString())
                .redirectErrorStream(true).start();
        convert.getInputStream().readAllBytes();
        assertEquals(0, convert.waitFor());
        Process fsck = new ProcessBuilder("/sbin/e2fsck", "-fn", raw.toString()).redirectErrorStream(true).start();
        String fsckOut = new String(fsck.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, fsck.waitFor(), "e2fsck: " + fsckOut);
    }

    /** Boots a guest on {@code disk}, runs one shell command, powers off; returns its stdout. */
    private static String bootRunAndPowerOff(Path dir, Path disk, String command, String expected) throws Exception {
        return bootRunAndPowerOff(dir, disk, initramfs, command, expected);
    }

    private static String bootRunAndPowerOff(Path dir, Path disk, Path initrd, String command, String expected)
            throws Exception {
        List<String> failures = new CopyOnWriteArrayList<>();
        QemuGuest.Spec spec = new QemuGuest.Spec(QEMU, false, 1, 256, kernel.vmlinuz(), initrd,
                Qcow2Image.open(disk), dir.resolve("box"), List.of());
        try (QemuGuest guest = QemuGuest.start(spec, failures::add);
             AgentClient agent = guest.awaitAgent(BOOT)) {
            String out;
            try (Execution sh = agent.exec(ExecRequest.builder("sh", "-c", command).build())) {
                out = drain(sh.stdout());
                assertEquals(0, sh.waitFor().exitCode(), command);
            }
            agent.shutdown(ShutdownAction.POWER_OFF, Duration.ofSeconds(10));
            assertEquals(Optional.of(0), guest.awaitExit(Duration.ofSeconds(60)));
            return out;
        }
    }

    private static String drain(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void commandsRunInTheGuestAndTheDiskKeepsTheirWrites(@TempDir Path dir) throws Exception {
        Path disk = busyboxDisk(dir);
        List<String> failures = new CopyOnWriteArrayList<>();
        QemuGuest.Spec spec = new QemuGuest.Spec(QEMU, false, 1, 256, kernel.vmlinuz(), initramfs,
                RawDiskImage.open(disk, false), dir.resolve("box"), List.of());
        try (QemuGuest guest = QemuGuest.start(spec, failures::add);
             AgentClient agent = guest.awaitAgent(BOOT)) {
            try (Execution echo = agent.exec(ExecRequest.builder("echo", "hello").build())) {
                assertEquals("hello\n", drain(echo.stdout()));
                assertEquals(0, echo.waitFor().exitCode());
            }
            try (Execution sh = agent.exec(ExecRequest.builder("sh", "-c",
                    "echo kept > /root/note && uname -r && exit 7").build())) {
                assertEquals(kernel.version() + "\n", drain(sh.stdout()));
                assertEquals(7, sh.waitFor().exitCode());
            }
            try (Execution cat = agent.exec(ExecRequest.builder("cat").build())) {
                cat.stdin().write("through stdin".getBytes(StandardCharsets.UTF_8));
                cat.stdin().close();
                assertEquals("through stdin", drain(cat.stdout()));
                assertEquals(0, cat.waitFor().exitCode());
            }
            agent.shutdown(ShutdownAction.POWER_OFF, Duration.ofSeconds(10));
            Optional<Integer> status = guest.awaitExit(Duration.ofSeconds(60));
            assertEquals(Optional.of(0), status, "the guest powered off; console: "
                    + Files.readString(dir.resolve("box/console.log")));
            assertTrue(failures.stream().allMatch(f -> f.contains("closed the connection")), failures.toString());
        }
        Process cat = new ProcessBuilder("/sbin/debugfs", "-R", "cat /root/note", disk.toString()).start();
        assertEquals("kept\n", new String(cat.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                "the write reached the disk image through our virtio-blk");
        cat.waitFor();
    }
}
