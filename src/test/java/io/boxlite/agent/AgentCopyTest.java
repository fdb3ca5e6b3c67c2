package io.boxlite.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Copy-in and copy-out as tar streams, checked against GNU tar on the host. */
class AgentCopyTest {
    @TempDir
    static Path dir;
    static LocalAgent agent;
    static AgentClient client;

    @BeforeAll
    static void startAgent() throws Exception {
        agent = LocalAgent.start(dir);
        client = agent.client();
    }

    @AfterAll
    static void stopAgent() throws Exception {
        client.close();
        agent.close();
    }

    /** A tree with modes, a symlink, nesting, an empty file, a big file and a name over 100 bytes. */
    static Path makeTree(Path root) throws IOException {
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

    static byte[] hostTar(Path parent, String name) throws Exception {
        Process p = new ProcessBuilder("tar", "-C", parent.toString(), "-cf", "-", name).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor(), new String(p.getErrorStream().readAllBytes(), UTF_8));
        return out;
    }

    static void hostUntar(byte[] tar, Path into) throws Exception {
        Files.createDirectories(into);
        Process p = new ProcessBuilder("tar", "-C", into.toString(), "-xpf", "-").start();
        try (var in = p.getOutputStream()) {
            in.write(tar);
        }
        assertEquals(0, p.waitFor(), new String(p.getErrorStream().readAllBytes(), UTF_8));
    }

    static void assertSameTree(Path expected, Path actual) throws IOException {
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

    @Test
    void aTreeCopiedInAndOutKeepsModesSymlinksAndContent(@TempDir Path work) throws Exception {
        Path tree = makeTree(work.resolve("src"));
        Path guestDir = work.resolve("guest/dest");
        CopyResult in = client.copyIn(new ByteArrayInputStream(hostTar(tree.getParent(), "tree")),
                guestDir.toString(), CopyOption.CREATE_DIRECTORIES);
        try (var walk = Files.walk(tree)) {
            assertEquals(walk.count(), in.entries(), "one archive member per file, directory and link");
        }
        assertSameTree(tree, guestDir.resolve("tree"));

        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        CopyResult out = client.copyOut(guestDir.resolve("tree").toString(), tar);
        assertEquals(in.entries(), out.entries());
        assertEquals(in.bytes(), out.bytes());
        hostUntar(tar.toByteArray(), work.resolve("back"));
        assertSameTree(tree, work.resolve("back/tree"));
    }

    @Test
    void aSingleFileCopiesOutUnderItsOwnName(@TempDir Path work) throws Exception {
        Files.writeString(work.resolve("one.txt"), "just one\n");
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        assertEquals(1, client.copyOut(work.resolve("one.txt").toString(), tar).entries());
        hostUntar(tar.toByteArray(), work.resolve("out"));
        assertEquals("just one\n", Files.readString(work.resolve("out/one.txt")));
    }

    @Test
    void copyOutOfAMissingPathIsNotFound(@TempDir Path work) {
        GuestAgentException e = assertThrows(GuestAgentException.class,
                () -> client.copyOut(work.resolve("missing").toString(), new ByteArrayOutputStream()));
        assertTrue(e.notFound(), e.getMessage());
    }

    @Test
    void copyInRefusesEntriesThatClimbOut(@TempDir Path work) throws Exception {
        Path dest = Files.createDirectories(work.resolve("dest"));
        byte[] tar = TarBuilder.create().file("ok.txt", "fine").file("../escaped.txt", "evil").finish();
        GuestAgentException e = assertThrows(GuestAgentException.class,
                () -> client.copyIn(new ByteArrayInputStream(tar), dest.toString()));
        assertTrue(e.getMessage().contains(".."), e.getMessage());
        assertFalse(Files.exists(work.resolve("escaped.txt")));
    }

    @Test
    void copyInNeverWritesThroughASymlinkItCreated(@TempDir Path work) throws Exception {
        Path dest = Files.createDirectories(work.resolve("dest"));
        Path outside = Files.createDirectories(work.resolve("outside"));
        byte[] tar = TarBuilder.create().symlink("esc", outside.toString()).file("esc/pwned", "evil").finish();
        GuestAgentException e = assertThrows(GuestAgentException.class,
                () -> client.copyIn(new ByteArrayInputStream(tar), dest.toString()));
        assertTrue(e.getMessage().contains("symlink"), e.getMessage());
        assertFalse(Files.exists(outside.resolve("pwned")));

        // Replacing an existing symlink with a file replaces the link, not its target.
        Files.writeString(outside.resolve("target"), "keep");
        Files.createSymbolicLink(dest.resolve("victim"), outside.resolve("target"));
        client.copyIn(new ByteArrayInputStream(TarBuilder.create().file("victim", "new").finish()), dest.toString());
        assertEquals("keep", Files.readString(outside.resolve("target")));
        assertFalse(Files.isSymbolicLink(dest.resolve("victim")));
        assertEquals("new", Files.readString(dest.resolve("victim")));
    }

    @Test
    void copyInHonoursNoOverwriteAndReportsAGarbledArchive(@TempDir Path work) throws Exception {
        Path dest = Files.createDirectories(work.resolve("dest"));
        Files.writeString(dest.resolve("exists"), "old");
        byte[] tar = TarBuilder.create().file("exists", "new").finish();
        assertThrows(GuestAgentException.class,
                () -> client.copyIn(new ByteArrayInputStream(tar), dest.toString(), CopyOption.NO_OVERWRITE));
        assertEquals("old", Files.readString(dest.resolve("exists")));

        byte[] garbled = tar.clone();
        garbled[150] ^= 0x55; // inside the checksum field
        GuestAgentException bad = assertThrows(GuestAgentException.class,
                () -> client.copyIn(new ByteArrayInputStream(garbled), dest.toString()));
        assertTrue(bad.getMessage().contains("checksum"), bad.getMessage());

        assertThrows(GuestAgentException.class, () -> client.copyIn(new ByteArrayInputStream(tar),
                work.resolve("absent").toString()));
        assertThrows(io.boxlite.InvalidArgumentException.class,
                () -> client.copyIn(new ByteArrayInputStream(tar), "relative/dir"));
    }

    @Test
    void paxLongNamesFromTheJavaBuilderExtract(@TempDir Path work) throws Exception {
        Path dest = Files.createDirectories(work.resolve("dest"));
        String longName = "d/" + "x".repeat(150) + "/" + "y".repeat(150);
        client.copyIn(new ByteArrayInputStream(TarBuilder.create().paxFile(longName, "pax").finish()), dest.toString());
        assertEquals("pax", Files.readString(dest.resolve(longName)));
        assertEquals(List.of("d"), Files.list(dest).map(p -> p.getFileName().toString()).toList());
    }

    @Test
    void aFailingLocalArchiveIsAStorageErrorNotAChannelError(@TempDir Path work) throws Exception {
        Path dest = Files.createDirectories(work.resolve("dest"));
        java.io.InputStream broken = new java.io.InputStream() {
            private int left = 4096;

            @Override
            public int read() throws IOException {
                if (left-- <= 0) {
                    throw new IOException("disk on fire");
                }
                return 0;
            }
        };
        io.boxlite.StorageException e = assertThrows(io.boxlite.StorageException.class,
                () -> client.copyIn(broken, dest.toString()));
        assertTrue(e.getMessage().contains("disk on fire"), e.getMessage());
        assertTrue(client.ping().toNanos() > 0, "the agent is fine");
    }
}
