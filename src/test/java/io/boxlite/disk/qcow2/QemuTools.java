package io.boxlite.disk.qcow2;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Runs Debian's qemu-img and qemu-io (package qemu-utils, installed by bin/setup). */
final class QemuTools {
    private static final Path QEMU_IMG = Path.of("/usr/bin/qemu-img");
    private static final Path QEMU_IO = Path.of("/usr/bin/qemu-io");

    record Result(int exit, String stdout, String stderr) {}

    /** Check result: corruptions must be zero; leaks are allowed where said. */
    record Check(int exit, long corruptions, long leaks, String output) {}

    private QemuTools() {}

    static void assumeInstalled() {
        boolean ok = Files.isExecutable(QEMU_IMG) && Files.isExecutable(QEMU_IO);
        if (!ok) {
            System.err.println("!!! SKIPPING qcow2 interoperability tests: qemu-img/qemu-io not found;"
                    + " install Debian's qemu-utils (bin/setup does)");
        }
        Assumptions.assumeTrue(ok, "qemu-img/qemu-io (Debian qemu-utils) are not installed");
    }

    static Result run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).start();
            p.getOutputStream().close();
            // drain stderr concurrently: qemu-img check prints a line per leaked cluster there
            var errFuture = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return p.getErrorStream().readAllBytes();
                } catch (IOException e) {
                    return new byte[0];
                }
            }, r -> Thread.ofVirtual().start(r));
            var out = p.getInputStream().readAllBytes();
            var err = errFuture.join();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("timed out: " + cmd);
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8),
                    new String(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static Result ok(List<String> cmd) {
        Result r = run(cmd);
        if (r.exit() != 0 || r.stdout().contains("error") || r.stderr().contains("error")) {
            fail(String.join(" ", cmd) + " failed (" + r.exit() + "):\n" + r.stdout() + r.stderr());
        }
        return r;
    }

    static Result img(String... args) {
        List<String> cmd = new ArrayList<>(List.of(QEMU_IMG.toString()));
        cmd.addAll(List.of(args));
        return ok(cmd);
    }

    /** Runs qemu-io on {@code image} with one {@code -c} per command. */
    static Result io(Path image, List<String> commands) {
        List<String> cmd = new ArrayList<>(List.of(QEMU_IO.toString(), "-f", "qcow2"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(image.toString());
        return ok(cmd);
    }

    static Check check(Path image) {
        Result r = run(List.of(QEMU_IMG.toString(), "check", "--output=json", image.toString()));
        try {
            JsonNode n = new ObjectMapper().readTree(r.stdout().isBlank() ? "{}" : r.stdout());
            long corruptions = n.path("corruptions").asLong(0) + n.path("check-errors").asLong(0);
            if (r.exit() == 1 || r.exit() == 2 || r.exit() > 3) {
                corruptions = Math.max(corruptions, 1);
            }
            return new Check(r.exit(), corruptions, n.path("leaks").asLong(0), r.stdout() + r.stderr());
        } catch (IOException e) {
            throw new AssertionError("unparsable qemu-img check output: " + r.stdout() + r.stderr(), e);
        }
    }

    /** Asserts qemu-img check finds nothing at all (no corruption, no leaks). */
    static void assertClean(Path image) {
        Check c = check(image);
        if (c.exit() != 0 || c.corruptions() != 0 || c.leaks() != 0) {
            fail("qemu-img check " + image + " is not clean:\n" + c.output());
        }
    }

    /** The guest-visible bytes, via qemu-img convert -O raw. */
    static byte[] toRaw(Path image, Path dir) throws IOException {
        Path raw = Files.createTempFile(dir, "raw", ".img");
        Files.delete(raw);
        img("convert", "-O", "raw", image.toString(), raw.toString());
        byte[] b = Files.readAllBytes(raw);
        Files.delete(raw);
        return b;
    }
}
