package io.boxlite.runtime;

import io.boxlite.BoxCommand;
import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.Boxlite;
import io.boxlite.ExecFailedException;
import io.boxlite.ExecResult;
import io.boxlite.Execution;
import io.boxlite.NotFoundException;
import io.boxlite.Options;
import io.boxlite.SimpleBox;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/** SimpleBox end to end on a real VM (QEMU engine): one boot shared by the assertions. */
class SimpleBoxTest {
    @TempDir
    static Path dir;

    @BeforeAll
    static void requirements() {
        BoxTestSupport.assumeBoxesCanRun();
    }

    @Test
    void aSimpleBoxRunsCommandsWithTheImageDefaultsAndIsRemovedOnClose() throws Exception {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        try (Boxlite runtime = Boxlite.open(Options.builder().home(home).build())) {
            String id;
            try (SimpleBox box = SimpleBox.create(runtime, BoxOptions.builder().image(BoxTestSupport.IMAGE)
                    .memoryMib(256).env("GREETING", "hi there").workingDir("/tmp").build())) {
                id = box.id();
                assertEquals(BoxState.RUNNING, box.info().state());

                ExecResult hello = box.exec("echo", "hello");
                assertEquals(new ExecResult(0, 0, false, "hello\n", "", hello.duration()), hello);

                ExecResult mixed = box.exec("sh", "-c", "echo \"$GREETING in $(pwd)\"; echo oops >&2; exit 7");
                assertEquals(7, mixed.exitCode());
                assertEquals("hi there in /tmp\n", mixed.stdout());
                assertEquals("oops\n", mixed.stderr());
                assertFalse(mixed.success());
                ExecFailedException failed = assertThrows(ExecFailedException.class, mixed::orThrow);
                assertTrue(failed.getMessage().contains("status 7") && failed.getMessage().contains("oops"),
                        failed.getMessage());

                ExecResult overridden = box.exec(BoxCommand.builder("sh").args("-c", "echo $GREETING; pwd")
                        .env("GREETING", "override").workingDir("/").build());
                assertEquals("override\n/\n", overridden.stdout());

                try (Execution cat = box.box().exec(BoxCommand.of("cat"))) {
                    cat.stdin().write("through stdin".getBytes(StandardCharsets.UTF_8));
                    cat.stdin().close();
                    assertEquals("through stdin", new String(cat.stdout().readAllBytes(), StandardCharsets.UTF_8));
                    assertEquals(0, cat.waitFor().exitCode());
                }

                List<String> lines = new CopyOnWriteArrayList<>();
                try (Execution listened = box.box().exec(BoxCommand.builder("sh").args("-c", "echo one; echo two")
                        .onStdout(lines::add).build())) {
                    assertEquals(0, listened.waitFor().exitCode());
                }
                assertEquals(List.of("one", "two"), lines);

                try (Execution tty = box.box().exec(BoxCommand.builder("sh").args("-c", "read x; stty size")
                        .tty(24, 80).build())) {
                    tty.resizeTty(40, 120);
                    tty.stdin().write("go\n".getBytes(StandardCharsets.UTF_8));
                    String out = new String(tty.stdout().readAllBytes(), StandardCharsets.UTF_8);
                    assertTrue(out.contains("40 120"), "the resized terminal: " + out);
                    assertEquals(0, tty.waitFor().exitCode());
                }

                assertEquals("async\n", box.execAsync("echo", "async").get().stdout());
                assertEquals(BoxState.RUNNING, box.box().infoAsync().get().state());

                ExecResult slow = box.exec(BoxCommand.builder("sleep").arg("30").timeout(Duration.ofMillis(500)).build());
                assertTrue(slow.timedOut(), slow.toString());

                assertThrows(NotFoundException.class, () -> box.exec("no-such-command"));

                Path src = Files.createDirectories(dir.resolve("src"));
                Files.writeString(src.resolve("file.txt"), "copied in");
                box.copyIn(src, "/root");
                assertEquals("copied in", box.exec("cat", "/root/src/file.txt").stdout());
                box.copyOut("/root/src", dir.resolve("out"));
                assertEquals("copied in", Files.readString(dir.resolve("out/src/file.txt")));

                var metrics = box.metrics();
                assertTrue(metrics.commandsExecuted() >= 8, metrics.toString());
                assertTrue(metrics.execErrors() >= 1, metrics.toString());
                assertTrue(metrics.guestBootDurationMs().orElseThrow() > 0, metrics.toString());
                assertTrue(metrics.memoryBytes().orElseThrow() > 0, metrics.toString());
            }
            assertTrue(runtime.get(id).isEmpty(), "autoRemove removed the box on close");
            assertFalse(Files.exists(home.resolve("boxes").resolve(id)));
        }
    }
}
