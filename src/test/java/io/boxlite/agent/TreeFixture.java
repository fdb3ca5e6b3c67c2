package io.boxlite.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Random;

/** A host directory tree for copy-in/copy-out tests, and GNU tar on the host to pack and check it. */
public final class TreeFixture {
    private TreeFixture() {
    }

    /** A tree with modes, a symlink, nesting, an empty file, a big file and a name over 100 bytes. */
    public static Path makeTree(Path root) throws IOException {
        Path tree = root.resolve("tree");
        Files.createDirectories(tree.resolve("sub/deep"));
        Files.writeString(tree.resolve("plain.txt"), "plain\n");
        Files.setPosixFilePermissions(tree.resolve("plain.txt"), PosixFilePermissions.fromString("rw-r-----"));
        Files.writeString(tree.resolve("run.sh"), "#!/bin/sh\necho run\n");
        Files.setPosixFilePermissions(tree.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createSymbolicLink(tree.resolve("link"), Path.of("plain.txt"));
        Files.createSymbolicLink(tree.resolve("sub/dangling"), Path.of("/nowhere/at/all"));
        Files.write(tree.resolve("sub/deep/empty"), new byte[0]);
        byte[] big = new byte[5 * 1024 * 1024 + 3];
        new Random(3).nextBytes(big);
        Files.write(tree.resolve("sub/big.bin"), big);
        Files.writeString(tree.resolve("sub/" + "n".repeat(120)), "long name\n");
        Files.setPosixFilePermissions(tree.resolve("sub/deep"), PosixFilePermissions.fromString("rwx--x---"));
        Files.setLastModifiedTime(tree.resolve("plain.txt"), FileTime.from(Instant.parse("2020-01-02T03:04:05Z")));
        return tree;
    }

    public static byte[] hostTar(Path parent, String name) throws Exception {
        Process p = new ProcessBuilder("tar", "-C", parent.toString(), "-cf", "-", name).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor(), new String(p.getErrorStream().readAllBytes(), UTF_8));
        return out;
    }

    public static void hostUntar(byte[] tar, Path into) throws Exception {
        Files.createDirectories(into);
        Process p = new ProcessBuilder("tar", "-C", into.toString(), "-xpf", "-").start();
        try (var in = p.getOutputStream()) {
            in.write(tar);
        }
        assertEquals(0, p.waitFor(), new String(p.getErrorStream().readAllBytes(), UTF_8));
    }

    public static void assertSameTree(Path expected, Path actual) throws IOException {
        try (var walk = Files.walk(expected)) {
            for (Path e : walk.toList()) {
                Path a = actual.resolve(expected.relativize(e).toString());
                assertTrue(Files.exists(a, LinkOption.NOFOLLOW_LINKS), "missing " + a);
                if (Files.isSymbolicLink(e)) {
                    assertTrue(Files.isSymbolicLink(a), a + " is a symlink");
                    assertEquals(Files.readSymbolicLink(e), Files.readSymbolicLink(a));
                    continue;
                }
                assertEquals(Files.getPosixFilePermissions(e), Files.getPosixFilePermissions(a), "mode of " + a);
                if (Files.isRegularFile(e)) {
                    assertArrayEquals(Files.readAllBytes(e), Files.readAllBytes(a), "content of " + a);
                    assertEquals(Files.getLastModifiedTime(e).toInstant().getEpochSecond(),
                            Files.getLastModifiedTime(a).toInstant().getEpochSecond(), "mtime of " + a);
                }
            }
        }
        try (var a = Files.walk(actual); var e = Files.walk(expected)) {
            assertEquals(e.count(), a.count(), "no extra entries in " + actual);
        }
    }
}
