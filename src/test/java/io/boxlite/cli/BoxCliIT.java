package io.boxlite.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.boxlite.runtime.BoxTestSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The {@code boxlite} CLI through its real launcher ({@code bin/boxlite}, the packaged jar) on
 * real boxes: the README's first command, Docker's exit codes, stdin, detach, a real terminal.
 */
class BoxCliIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final String IMAGE = "localhost/busybox";
    @TempDir
    static Path dir;
    static Path home;

    record Result(int status, String out, String err) {
    }

    @BeforeAll
    static void loadTheLocalImage() throws Exception {
        BoxTestSupport.assumeBoxesCanRun();
        home = dir.resolve("home");
        Path layout = dir.resolve("layout");
        Result built = exec(null, List.of(ROOT.resolve("bin/build-local-image").toString(), layout.toString()));
        assertEquals(0, built.status(), built.err());
        Result loaded = boxlite(null, "load", layout.toString());
        assertEquals(0, loaded.status(), loaded.err());
        assertEquals("Loaded image: localhost/busybox:latest\n", loaded.out());
    }

    static Result boxlite(String stdin, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ROOT.resolve("bin/boxlite").toString(), "--home", home.toString()));
        cmd.addAll(List.of(args));
        return exec(stdin, cmd);
    }

    static Result exec(String stdin, List<String> cmd) throws Exception {
        return exec(stdin, cmd, true);
    }

    /** Runs {@code cmd}; unless {@code closeStdin}, its stdin stays open (and silent) until it exits. */
    static Result exec(String stdin, List<String> cmd, boolean closeStdin) throws Exception {
        Process p = new ProcessBuilder(cmd).start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        if (stdin != null) {
            p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        if (closeStdin) {
            p.getOutputStream().close();
        }
        String out = read(p.getInputStream());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "timed out: " + cmd);
        p.getOutputStream().close();
        return new Result(p.exitValue(), out, err.get());
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static JsonNode ls(String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("ls", "--format", "json"));
        args.addAll(List.of(flags));
        Result r = boxlite(null, args.toArray(String[]::new));
        assertEquals(0, r.status(), r.err());
        return new ObjectMapper().readTree(r.out());
    }

    @Test
    void runRmPrintsHelloFromARealBoxAndLeavesNothingBehind() throws Exception {
        Result r = boxlite(null, "run", "--rm", IMAGE, "echo", "hello");
        assertEquals(new Result(0, "hello\n", ""), r);
        assertEquals(0, ls("-a").size(), "--rm removed the box");
    }

    @Test
    void runForwardsStdinWithIAndExitsWithTheCommandsStatus() throws Exception {
        Result r = boxlite("piped in\n", "run", "--rm", "-i", IMAGE, "sh", "-c", "cat; echo to-stderr >&2; exit 3");
        assertEquals(3, r.status(), r.err());
        assertEquals("piped in\n", r.out());
        assertEquals("to-stderr\n", r.err());
    }

    @Test
    void refusedOptionsAndUnknownBoxesAreRuntimeErrors() throws Exception {
        Result ports = boxlite(null, "run", "--rm", "-p", "8080:80", IMAGE, "true");
        assertEquals(125, ports.status());
        assertTrue(ports.err().startsWith("boxlite: ports: publishing ports is not supported yet"), ports.err());
        Result volume = boxlite(null, "run", "--rm", "-v", "/tmp:/data", IMAGE, "true");
        assertEquals(125, volume.status());
        assertTrue(volume.err().contains("volumes:"), volume.err());
        Result ghost = boxlite(null, "exec", "ghost", "true");
        assertEquals(125, ghost.status());
        assertEquals("boxlite: No such box: ghost\n", ghost.err());
        assertEquals(0, ls("-a").size(), "refused boxes were never created");
    }

    @Test
    void aDetachedBoxTakesExecsSurvivesStopAndStartAndIsRemovedWithForce() throws Exception {
        Result started = boxlite(null, "run", "-d", "--name", "web", IMAGE);
        assertEquals(0, started.status(), started.err());
        String id = started.out().strip();
        JsonNode running = ls();
        assertEquals(1, running.size(), running.toString());
        assertEquals(id, running.get(0).get("id").asText());
        assertEquals("web", running.get(0).get("name").asText());
        assertEquals("running", running.get(0).get("state").asText());
        assertTrue(running.get(0).get("detached").asBoolean());

        String hostCommand = boxHostCommandLine(running.get(0).get("pid").asLong());
        assertTrue(hostCommand.contains("/target/boxlite-run-") && !hostCommand.contains("boxlite-0.1.0-SNAPSHOT.jar"),
                "the box host runs from a content-named copy of the jar, which no rebuild rewrites: " + hostCommand);

        assertEquals(new Result(5, "in box\n", ""), boxlite(null, "exec", "web", "sh", "-c", "echo in box; exit 5"));
        assertEquals(127, boxlite(null, "exec", "web", "no-such-command").status());
        assertEquals(126, boxlite(null, "exec", "web", "/etc/passwd").status());
        assertEquals(0, boxlite(null, "exec", "web", "sh", "-c", "echo kept > /root/note").status());

        assertEquals(0, boxlite(null, "stop", "web").status());
        assertEquals("stopped", ls("-a").get(0).get("state").asText());
        assertEquals(0, ls().size(), "ls without -a shows running boxes only");
        assertEquals(0, boxlite(null, "start", id.substring(0, 16)).status());
        assertEquals(new Result(0, "kept\n", ""), boxlite(null, "exec", "web", "cat", "/root/note"));

        Result inspect = boxlite(null, "inspect", "web");
        assertEquals(0, inspect.status(), inspect.err());
        assertEquals(id, new ObjectMapper().readTree(inspect.out()).get(0).get("id").asText());

        Result refused = boxlite(null, "rm", "web");
        assertEquals(125, refused.status());
        assertTrue(refused.err().contains("rm -f"), refused.err());
        assertEquals(0, boxlite(null, "rm", "-f", "web").status());
        assertEquals(0, ls("-a").size());
    }

    @Test
    void ttyRunsOnARealPseudoTerminalAndTheHostTerminalIsRestored() throws Exception {
        String launcher = ROOT.resolve("bin/boxlite") + " --home " + home;
        String script = "stty rows 30 cols 100; stty -g; " + launcher + " run --rm -it " + IMAGE
                + " sh -c 'tty; stty size; exit 4'; echo status=$?; stty -g";
        // why: script turns end-of-file on its stdin into a byte typed at the terminal; keep stdin open
        Result r = exec(null, List.of("script", "-qec", script, "/dev/null"), false);
        List<String> lines = r.out().lines().map(String::strip).toList();
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("/dev/pts/")), r.out());
        assertTrue(lines.contains("30 100"), "the box's terminal has the host's size: " + r.out());
        assertTrue(lines.contains("status=4"), r.out());
        List<String> settings = lines.stream().filter(l -> l.matches("[0-9a-f]+(:[0-9a-f]+){10,}")).toList();
        assertEquals(2, settings.size(), r.out());
        assertEquals(settings.get(0), settings.get(1), "raw mode was undone");
    }
    @Test
    void execDetachedStartsACommandThatOutlivesTheCliAndLogsItsOutput() throws Exception {
        assertEquals(0, boxlite(null, "run", "-d", "--name", "bg", IMAGE).status());
        // why: the command waits for /root/go, made only after the CLI has exited, so no timing is assumed
        Result started = boxlite(null, "exec", "-d", "bg", "sh", "-c",
                "echo started; while [ ! -e /root/go ]; do sleep 0.2; done; sleep 1; echo done > /root/later; echo finished");
        assertEquals(0, started.status(), started.err());
        String execId = started.out().strip();
        assertTrue(execId.matches("[0-9A-HJKMNP-TV-Z]{26}"), "exec -d prints the exec id: " + started.out());
        assertEquals("", started.err());
        assertEquals(1, boxlite(null, "exec", "bg", "test", "-e", "/root/later").status(), "not written yet");
        assertEquals(0, boxlite(null, "exec", "bg", "touch", "/root/go").status());
        Result later = null;
        for (int i = 0; i < 20; i++) {
            later = boxlite(null, "exec", "bg", "cat", "/root/later");
            if (later.status() == 0) {
                break;
            }
            Thread.sleep(500);
        }
        assertEquals(new Result(0, "done\n", ""), later, "the background command ran on after the CLI exited");
        Result log = boxlite(null, "logs", "-f", "--exec", execId, "bg");
        assertEquals(new Result(0, "started\nfinished\n", ""), log, "its output is kept; -f ends with the command");

        assertEquals(127, boxlite(null, "exec", "-d", "bg", "no-such-command").status());
        Result both = boxlite(null, "exec", "-d", "-i", "bg", "true");
        assertEquals(125, both.status());
        assertTrue(both.err().contains("-d cannot be combined with -i or -t"), both.err());
        assertEquals(0, boxlite(null, "rm", "-f", "bg").status());
    }

    @Test
    void logsFollowPrintsLinesWrittenAfterItStartedAndEndsWhenTheBoxStops() throws Exception {
        assertEquals(0, boxlite(null, "run", "-d", "--name", "con", IMAGE).status());
        Process follow = new ProcessBuilder(ROOT.resolve("bin/boxlite").toString(), "--home", home.toString(),
                "logs", "-f", "con").redirectErrorStream(true).start();
        StringBuffer seen = new StringBuffer();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (var in = new java.io.InputStreamReader(follow.getInputStream(), StandardCharsets.UTF_8)) {
                char[] buf = new char[4096];
                for (int n; (n = in.read(buf)) >= 0; ) {
                    seen.append(buf, 0, n);
                }
            } catch (java.io.IOException e) {
                seen.append("\n(read failed: ").append(e).append(')');
            }
        });
        try {
            awaitText(seen, "listening on vsock", "the follow printed the boot lines");
            String marker = "marker-" + System.nanoTime();
            assertEquals(0, boxlite(null, "exec", "con", "sh", "-c", "echo " + marker + " > /dev/console").status());
            awaitText(seen, marker, "a line written after the follow started");
            Result last = boxlite(null, "logs", "--tail", "1", "con");
            assertEquals(marker, last.out().strip(), "--tail 1 shows the last line");
            assertTrue(follow.isAlive(), "the follow runs while the box runs");

            assertEquals(0, boxlite(null, "stop", "con").status());
            assertTrue(follow.waitFor(60, TimeUnit.SECONDS), "the follow ends when the box stops: " + seen);
            assertEquals(0, follow.exitValue(), seen.toString());
            reader.join();
        } finally {
            follow.destroyForcibly();
        }
        assertEquals(0, boxlite(null, "rm", "con").status());
    }

    /** The command line of the box host JVM: the process {@code pid} (the engine) or its nearest ancestor running BoxHostMain. */
    private static String boxHostCommandLine(long pid) throws java.io.IOException {
        for (long p = pid; p > 1; ) {
            String cmd = Files.readString(Path.of("/proc/" + p + "/cmdline")).replace('\0', ' ');
            if (cmd.contains("BoxHostMain")) {
                return cmd;
            }
            String stat = Files.readString(Path.of("/proc/" + p + "/stat"));
            p = Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[1]);
        }
        throw new AssertionError("no box host process above pid " + pid);
    }

    private static void awaitText(StringBuffer text, String wanted, String what) throws InterruptedException {
        for (int i = 0; i < 600 && text.indexOf(wanted) < 0; i++) {
            Thread.sleep(100);
        }
        assertTrue(text.indexOf(wanted) >= 0, what + ": " + text);
    }
}
