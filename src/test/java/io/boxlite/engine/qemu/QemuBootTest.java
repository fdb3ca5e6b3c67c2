package io.boxlite.engine.qemu;

import io.boxlite.Options;
import io.boxlite.guest.Initramfs;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The QEMU engine's process layer boots the real Debian kernel with an initramfs we assemble:
 * here with a busybox script as init (the agent replaces it), loading the box's modules.
 */
class QemuBootTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    private static GuestKernel kernel;

    @TempDir
    Path dir;

    @BeforeAll
    static void requirements() {
        String missing = !Files.isExecutable(QEMU) ? QEMU + " (install qemu-system-x86: bin/setup)"
                : !Files.isExecutable(BUSYBOX) ? BUSYBOX + " (install busybox-static: bin/setup)" : null;
        if (missing != null) {
            System.err.println("*** SKIPPING QEMU BOOT TESTS: missing " + missing + " ***");
        }
        assumeTrue(missing == null, "missing " + missing);
        kernel = GuestKernel.locate(Options.defaults()); // bin/test fetches it; absence is an error
    }

    private Path initramfs(String script) throws Exception {
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir.resolve("home")).build()).open();
        return Initramfs.of(kernel, ("#!/bin/busybox sh\n" + script).getBytes(StandardCharsets.UTF_8),
                Initramfs.BOX_MODULES, Map.of("bin/busybox", Files.readAllBytes(BUSYBOX))).build(home);
    }

    private QemuCommandLine command(Path initrd) {
        return new QemuCommandLine(QEMU, false, 1, 256, kernel.vmlinuz(), initrd,
                "console=ttyS0 quiet panic=-1 " + TcgClock.kernelArguments(), dir.resolve("console.log"), dir.resolve("qmp.sock"), List.of());
    }

    @Test
    void guestLoadsEveryBoxModuleAndPowersQemuOff() throws Exception {
        Path initrd = initramfs("""
                /bin/busybox mkdir -p /proc /sys && /bin/busybox mount -t proc proc /proc && /bin/busybox mount -t sysfs sys /sys
                n=0; failed=0
                for m in $(/bin/busybox cat /etc/boxlite/modules); do
                  if /bin/busybox insmod "$m"; then n=$((n+1)); else failed=$((failed+1)); fi
                done
                echo "BOXLITE-MARKER loaded=$n failed=$failed vsock=$(/bin/busybox test -d /sys/module/vmw_vsock_virtio_transport && echo yes)"
                /bin/busybox poweroff -f
                """);
        try (QemuProcess qemu = QemuProcess.start(command(initrd), dir, dir.resolve("qemu.log"), Duration.ofSeconds(10))) {
            assertEquals("running", qemu.qmp().execute("query-status", Map.of()).path("status").asText());
            Optional<Integer> status = qemu.awaitExit(Duration.ofSeconds(90));
            String console = Files.readString(dir.resolve("console.log"));
            assertEquals(Optional.of(0), status, "QEMU exits by itself when the guest powers off; console:\n" + console);
            assertTrue(console.matches("(?s).*BOXLITE-MARKER loaded=\\d+ failed=0 vsock=yes.*"), console);
        }
        assertFalse(Files.exists(dir.resolve(QemuProcess.PID_FILE)), "the PID file goes with the process");
    }

    @Test
    void killStopsARunningGuestAndLeavesNothingBehind() throws Exception {
        Path initrd = initramfs("echo BOXLITE-SPINNING; while :; do /bin/busybox sleep 1; done\n");
        QemuProcess qemu = QemuProcess.start(command(initrd), dir, dir.resolve("qemu.log"), Duration.ofSeconds(10));
        long pid = qemu.pid();
        assertTrue(Files.exists(dir.resolve(QemuProcess.PID_FILE)));
        qemu.close();
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "QEMU is gone");
        assertFalse(Files.exists(dir.resolve(QemuProcess.PID_FILE)));
    }

    @Test
    void orphansOfADeadRuntimeAreReapedButReusedPidsAreLeftAlone() throws Exception {
        Path boxes = dir.resolve("boxes");
        Path box = Files.createDirectories(boxes.resolve("orphan"));
        Path initrd = initramfs("while :; do /bin/busybox sleep 1; done\n");
        QemuProcess qemu = QemuProcess.start(command(initrd), box, dir.resolve("qemu.log"), Duration.ofSeconds(10));
        long pid = qemu.pid();

        // A record naming this JVM with another start time: a reused PID, not ours to kill.
        Path stranger = Files.createDirectories(boxes.resolve("stranger"));
        ProcessIdentity me = ProcessIdentity.of(ProcessHandle.current().pid()).orElseThrow();
        Files.writeString(stranger.resolve(QemuProcess.PID_FILE),
                new ProcessIdentity(me.pid(), me.startTicks() + 1, me.bootId()).encode());

        assertEquals(1, QemuProcess.reapOrphans(boxes), "only the recorded QEMU is killed");
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
        assertTrue(ProcessHandle.current().isAlive());
        qemu.close();
    }

    @Test
    void aBadCommandLineFailsWithQemusOwnWords() {
        QemuCommandLine bad = new QemuCommandLine(QEMU, false, 1, 256, dir.resolve("no-such-kernel"),
                dir.resolve("no-such-initrd"), "console=ttyS0", dir.resolve("console.log"), dir.resolve("qmp.sock"), List.of());
        var e = assertThrows(io.boxlite.BoxliteException.class,
                () -> QemuProcess.start(bad, dir, dir.resolve("qemu.log"), Duration.ofSeconds(10)));
        assertTrue(e.getMessage().contains("QEMU exited with status"), e.getMessage());
        assertTrue(e.getMessage().contains("no-such-kernel"), e.getMessage());
    }
}
