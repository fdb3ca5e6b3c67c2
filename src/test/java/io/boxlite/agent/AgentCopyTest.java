package io.boxlite.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.boxlite.agent.TreeFixture.assertSameTree;
import static io.boxlite.agent.TreeFixture.hostTar;
import static io.boxlite.agent.TreeFixture.hostUntar;
import static io.boxlite.agent.TreeFixture.makeTree;

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
