package io.boxlite.runtime;

import io.boxlite.Box;
import io.boxlite.BoxCommand;
import io.boxlite.BoxInfo;
import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.Boxlite;
import io.boxlite.InvalidStateException;
import io.boxlite.Options;
import io.boxlite.SimpleBox;
import io.boxlite.oci.store.ImageStore;
import io.boxlite.home.BoxliteHome;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Box lifecycles on real VMs (QEMU engine): stop/start keeps the disk; detach across JVMs; recovery. */
class BoxLifecycleTest {
    @TempDir
    static Path dir;
    static Path home;

    @BeforeAll
    static void prepare() {
        BoxTestSupport.assumeBoxesCanRun();
        home = BoxTestSupport.homeWithImage(dir.resolve("home"));
    }

    private static Boxlite open() {
        return Boxlite.open(Options.builder().home(home).build());
    }

    private static String run(Box box, String... argv) throws Exception {
        try (var e = box.exec(BoxCommand.of(argv[0], java.util.Arrays.copyOfRange(argv, 1, argv.length)))) {
            e.stdin().close();
            String out = new String(e.stdout().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, e.waitFor().exitCode(), String.join(" ", argv));
            return out;
        }
    }

    @Test
    void stopThenStartKeepsTheDiskAndRemoveDeletesTheBoxAndUnpinsItsImage() throws Exception {
        try (Boxlite runtime = open()) {
            Box box = runtime.create(BoxOptions.builder().image(BoxTestSupport.IMAGE).memoryMib(256).autoRemove(false)
                    .build(), "keeper");
            run(box, "sh", "-c", "echo persisted > /root/note && sync");
            assertEquals(BoxState.RUNNING, box.info().state(), "the first exec started the box");
            assertFalse(box.info().detached());
            box.stop();
            BoxInfo stopped = box.info();
            assertEquals(BoxState.STOPPED, stopped.state());
            assertTrue(stopped.stoppedAt().isPresent());

            assertEquals("persisted\n", run(box, "cat", "/root/note"), "the disk kept the write across a restart");
            assertThrows(InvalidStateException.class, () -> runtime.remove("keeper", false));
            runtime.remove("keeper", true);
            assertTrue(runtime.get("keeper").isEmpty());
            assertFalse(Files.exists(home.resolve("boxes").resolve(box.id())));
            try (ImageStore images = ImageStore.open(BoxliteHome.resolve(Options.builder().home(home).build()))) {
                assertTrue(images.pins().values().stream().noneMatch(h -> h.contains("box:" + box.id())),
                        images.pins().toString());
            }
        }
    }

    @Test
    void aBoxWhoseEngineDiesIsRecordedAsFailedByItsHostAndCanStartAgain() throws Exception {
        try (Boxlite runtime = open()) {
            Box box = runtime.create(BoxOptions.builder().image(BoxTestSupport.IMAGE).memoryMib(256).autoRemove(false)
                    .build(), "fragile");
            box.start();
            long qemu = runtime.core().enginePid(box.id()).orElseThrow();
            ProcessHandle.of(qemu).orElseThrow().destroyForcibly();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (box.info().state() == BoxState.RUNNING && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            BoxInfo failed = box.info();
            assertEquals(BoxState.FAILED, failed.state(), failed.toString());
            assertTrue(failed.error().orElseThrow().contains("exited unexpectedly"), failed.toString());
            assertEquals("again\n", run(box, "echo", "again"), "a failed box starts again");
            runtime.remove("fragile", true);
        }
    }

    @Test
    void aDetachedBoxOutlivesItsCreatorIsReattachedAndIsRecoveredAfterItsHostIsKilled() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process creator = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), DetachedBoxCreator.class.getName(), home.toString(), "survivor")
                .redirectErrorStream(true).start();
        String output = new String(creator.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(creator.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, creator.exitValue(), output);
        List<String> lines = output.lines().toList();
        String id = lines.getLast().strip();

        long hostPid;
        long qemuPid;
        try (Boxlite runtime = open()) {
            Box box = runtime.get("survivor").orElseThrow();
            assertEquals(id, box.id());
            BoxInfo info = box.info();
            assertEquals(BoxState.RUNNING, info.state(), "the box outlived the JVM that created it");
            assertTrue(info.detached());
            hostPid = info.pid().orElseThrow();
            assertNotEquals(ProcessHandle.current().pid(), hostPid);
            assertNotEquals(creator.pid(), hostPid);
            assertEquals("reattached\n", run(box, "echo", "reattached"), "a new runtime reaches the box");
            qemuPid = runtime.core().enginePid(id).orElseThrow();
            assertTrue(box.metrics().memoryBytes().orElseThrow() > 0);
        }

        ProcessHandle host = ProcessHandle.of(hostPid).orElseThrow();
        assertTrue(host.destroyForcibly(), "kill -9 of the box host");
        host.onExit().get(30, TimeUnit.SECONDS);

        try (Boxlite runtime = open()) {
            BoxInfo recovered = runtime.info("survivor").orElseThrow();
            assertEquals(BoxState.STOPPED, recovered.state());
            assertTrue(recovered.error().orElseThrow().contains("host process died"), recovered.toString());
            Optional<ProcessHandle> qemu = ProcessHandle.of(qemuPid);
            assertTrue(qemu.isEmpty() || !qemu.get().isAlive(), "the orphaned QEMU was killed");
            runtime.remove("survivor", false);
        }
    }
}
