package io.boxlite.vmm.transport.vhostuser;

import io.boxlite.Options;
import io.boxlite.engine.qemu.QemuCommandLine;
import io.boxlite.engine.qemu.QemuProcess;
import io.boxlite.engine.qemu.TcgClock;
import io.boxlite.guest.Initramfs;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real QEMU and a real Linux guest use a Java device through our vhost-user back end: QEMU's
 * {@code vhost-user-rng} in front of a device that fills every buffer with 0xAB, read by the
 * guest's virtio-rng driver from /dev/hwrng.
 */
class VhostUserQemuTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final Path BUSYBOX = Path.of("/bin/busybox");

    @TempDir
    Path dir;

    @Test
    void linuxGuestReadsBytesFromAJavaDeviceOverVhostUser() throws Exception {
        io.boxlite.log.Logging.configure(); // BOXLITE_LOG=trace shows the vhost-user conversation
        boolean present = Files.isExecutable(QEMU) && Files.isExecutable(BUSYBOX);
        if (!present) {
            System.err.println("*** SKIPPING vhost-user QEMU test: qemu-system-x86 or busybox-static missing (bin/setup) ***");
        }
        assumeTrue(present, "qemu-system-x86 and busybox-static are needed");
        GuestKernel kernel = GuestKernel.locate(Options.defaults());
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir.resolve("home")).build()).open();
        List<String> modules = new ArrayList<>(Initramfs.BOX_MODULES);
        modules.add("virtio_rng");
        Path initrd = Initramfs.of(kernel, """
                #!/bin/busybox sh
                /bin/busybox mkdir -p /proc /sys /dev
                /bin/busybox mount -t proc proc /proc; /bin/busybox mount -t sysfs sys /sys; /bin/busybox mount -t devtmpfs dev /dev
                for m in $(/bin/busybox cat /etc/boxlite/modules); do /bin/busybox insmod "$m"; done
                /bin/busybox sleep 1
                echo "BOXLITE-RNG $(/bin/busybox cat /sys/class/misc/hw_random/rng_current) $(/bin/busybox dd if=/dev/hwrng bs=8 count=1 2>/dev/null | /bin/busybox od -An -tx1)"
                /bin/busybox poweroff -f
                """.getBytes(StandardCharsets.UTF_8), modules, Map.of("bin/busybox", Files.readAllBytes(BUSYBOX))).build(home);

        FillDevice device = new FillDevice();
        List<String> ended = new ArrayList<>();
        try (VhostUserBackend backend = VhostUserBackend.listen(dir.resolve("rng.sock"), device, "rng", ended::add)) {
            QemuCommandLine cmd = new QemuCommandLine(QEMU, false, 1, 256, kernel.vmlinuz(), initrd,
                    "console=ttyS0 quiet panic=-1 " + TcgClock.kernelArguments(), dir.resolve("console.log"),
                    dir.resolve("qmp.sock"), List.of(new QemuCommandLine.VhostUserDevice("vhost-user-rng",
                            backend.socketPath(), List.of())));
            try (QemuProcess qemu = QemuProcess.start(cmd, dir, dir.resolve("qemu.log"), Duration.ofSeconds(10))) {
                Optional<Integer> status = qemu.awaitExit(Duration.ofSeconds(60));
                String console = Files.readString(dir.resolve("console.log"));
                assertEquals(Optional.of(0), status, "guest powered off; console:\n" + console
                        + "\nqemu.log:\n" + Files.readString(dir.resolve("qemu.log")));
                assertTrue(console.contains("BOXLITE-RNG virtio_rng.0  ab ab ab ab ab ab ab ab"), console);
            }
        }
        assertEquals(1, ended.size(), "QEMU's exit ended the session: " + ended);
    }
}
