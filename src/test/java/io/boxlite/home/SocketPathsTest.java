package io.boxlite.home;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.boxlite.InvalidArgumentException;
import io.boxlite.StorageException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketPathsTest {
    @TempDir
    Path tmp;

    Path xdg;
    SocketPaths sockets;

    @BeforeEach
    void privateRuntimeDir() throws IOException {
        xdg = Files.createDirectory(tmp.resolve("xdg"));
        sockets = SocketPaths.resolve(Map.of("XDG_RUNTIME_DIR", xdg.toString()));
    }

    /** A box directory in a home whose path is about 250 characters long. */
    Path deepBoxDir() throws IOException {
        Path dir = tmp;
        while (dir.toString().length() < 230) {
            dir = dir.resolve("deeply-nested-home-directory-" + dir.getNameCount());
        }
        return Files.createDirectories(dir.resolve(".boxlite/boxes/0123456789abcdef"));
    }

    static int bytes(Path path) {
        return path.toString().getBytes(StandardCharsets.UTF_8).length;
    }

    static long myUid(Path ownFile) throws IOException {
        return Integer.toUnsignedLong((Integer) Files.getAttribute(ownFile, "unix:uid"));
    }

    static String sha256Prefix(Path path) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256")
                .digest(path.toString().getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(digest).substring(0, 12);
    }

    @Nested
    class ChoosingTheRuntimeDir {
        @Test
        void usesBoxliteUnderXdgRuntimeDir() {
            assertEquals(xdg.resolve("boxlite"), sockets.runtimeDir());
        }

        @Test
        void fallsBackToTmpBoxliteUidWithoutXdgRuntimeDir() throws Exception {
            Path expected = Path.of("/tmp/boxlite-" + myUid(tmp));

            assertEquals(expected, SocketPaths.resolve(Map.of()).runtimeDir());
        }

        @Test
        void fallsBackWhenXdgRuntimeDirIsMissingRelativeOrTooLong() throws Exception {
            Path fallback = SocketPaths.resolve(Map.of()).runtimeDir();
            Path tooLong = Files.createDirectories(tmp.resolve("x".repeat(60)));

            for (String value : List.of(tmp.resolve("missing").toString(), "run/user",
                    tooLong.toString(), " ")) {
                assertEquals(fallback,
                        SocketPaths.resolve(Map.of("XDG_RUNTIME_DIR", value)).runtimeDir(), value);
            }
        }

        @Test
        void resolvingCreatesNothing() {
            assertFalse(Files.exists(sockets.runtimeDir()));
        }
    }

    @Nested
    class LongDirectories {
        @Test
        void aServerBoundThroughTheShortPathTalksToAClient() throws Exception {
            Path boxDir = deepBoxDir();
            Path socket = sockets.socketPath(boxDir, "box.sock");
            assertTrue(bytes(boxDir) >= 250, "the home is deep: " + bytes(boxDir));
            assertTrue(bytes(socket) <= 107, socket + " fits a sun_path");

            try (var server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                server.bind(UnixDomainSocketAddress.of(socket));
                try (var client = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                     var accepted = server.accept()) {
                    client.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII)));
                    assertEquals("ping", readFour(accepted));
                    accepted.write(ByteBuffer.wrap("pong".getBytes(StandardCharsets.US_ASCII)));
                    assertEquals("pong", readFour(client));
                }
            }
            assertTrue(Files.exists(boxDir.resolve("box.sock"), LinkOption.NOFOLLOW_LINKS),
                    "the socket file lives in the long directory");
        }

        @Test
        void bindingTheLongPathDirectlyFails() throws Exception {
            Path direct = deepBoxDir().resolve("box.sock");
            assertTrue(bytes(direct) > 107);

            try (var server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                var e = assertThrows(IOException.class,
                        () -> server.bind(UnixDomainSocketAddress.of(direct)));
                assertTrue(e.getMessage().contains("too long"), e.getMessage());
            }
        }

        @Test
        void theShortDirIsALinkNamedByTheSha256OfTheLongPath() throws Exception {
            Path boxDir = deepBoxDir();

            Path shortDir = sockets.shortDir(boxDir);

            assertEquals(xdg.resolve("boxlite").resolve(sha256Prefix(boxDir)), shortDir);
            assertTrue(Files.isSymbolicLink(shortDir));
            assertEquals(boxDir, Files.readSymbolicLink(shortDir));
            assertEquals(shortDir.resolve("x.sock"), sockets.socketPath(boxDir, "x.sock"));
        }

        @Test
        void aStaleLinkIsRefreshed() throws Exception {
            Path boxDir = deepBoxDir();
            Path link = sockets.shortDir(boxDir);
            Files.delete(link);
            Files.createSymbolicLink(link, tmp.resolve("somewhere-else"));

            assertEquals(link, sockets.shortDir(boxDir));

            assertEquals(boxDir, Files.readSymbolicLink(link));
        }

        @Test
        void concurrentRefreshesLeaveOneCorrectLinkAndNoTemporaries() throws Exception {
            Path boxDir = deepBoxDir();
            Path link = sockets.shortDir(boxDir);
            Files.delete(link);
            Files.createSymbolicLink(link, tmp.resolve("somewhere-else"));
            int threads = 8;
            var barrier = new CyclicBarrier(threads);
            try (var pool = Executors.newFixedThreadPool(threads)) {
                List<Future<Path>> results = new ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    results.add(pool.submit(() -> {
                        barrier.await();
                        return sockets.shortDir(boxDir);
                    }));
                }
                for (var result : results) {
                    assertEquals(link, result.get());
                }
            }

            assertEquals(boxDir, Files.readSymbolicLink(link));
            try (Stream<Path> entries = Files.list(sockets.runtimeDir())) {
                assertEquals(List.of(link), entries.toList());
            }
        }

        @Test
        void releaseRemovesTheLinkButNotTheDirectory() throws Exception {
            Path boxDir = deepBoxDir();
            Path link = sockets.shortDir(boxDir);

            sockets.release(boxDir);

            assertFalse(Files.exists(link, LinkOption.NOFOLLOW_LINKS));
            assertTrue(Files.isDirectory(boxDir));
        }

        @Test
        void releaseLeavesALinkThatPointsElsewhere() throws Exception {
            Path boxDir = deepBoxDir();
            Path link = sockets.shortDir(boxDir);
            Files.delete(link);
            Files.createSymbolicLink(link, tmp.resolve("somewhere-else"));

            sockets.release(boxDir);

            assertTrue(Files.isSymbolicLink(link));
        }

        @Test
        void releaseWithoutARuntimeDirDoesNothing() throws Exception {
            sockets.release(deepBoxDir());

            assertFalse(Files.exists(sockets.runtimeDir()));
        }

        @Test
        void socketNamesMustBePlainFileNames() throws Exception {
            Path boxDir = deepBoxDir();

            for (String name : List.of("", ".", "..", "a/b", "nul\0")) {
                assertThrows(InvalidArgumentException.class,
                        () -> sockets.socketPath(boxDir, name), name);
            }
        }

        @Test
        void aNameTooLongEvenForTheShortPathIsRefused() throws Exception {
            Path boxDir = deepBoxDir();

            var e = assertThrows(InvalidArgumentException.class,
                    () -> sockets.socketPath(boxDir, "s".repeat(100) + ".sock"));

            assertTrue(e.getMessage().contains("107-byte limit"), e.getMessage());
        }

        String readFour(SocketChannel channel) throws IOException {
            var buffer = ByteBuffer.allocate(4);
            while (buffer.hasRemaining()) {
                if (channel.read(buffer) < 0) {
                    break;
                }
            }
            return new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII);
        }
    }

    @Nested
    class RuntimeDirSafety {
        @Test
        void isCreatedOwnerOnly() throws Exception {
            sockets.shortDir(tmp);

            assertEquals("rwx------", PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(sockets.runtimeDir())));
        }

        @Test
        void aSymbolicLinkIsRefused() throws Exception {
            Path decoy = Files.createDirectory(tmp.resolve("decoy"),
                    PosixFilePermissions.asFileAttribute(
                            PosixFilePermissions.fromString("rwx------")));
            Files.createSymbolicLink(sockets.runtimeDir(), decoy);

            var e = assertThrows(StorageException.class, () -> sockets.shortDir(tmp));

            assertTrue(e.getMessage().contains("is a symbolic link"), e.getMessage());
            try (Stream<Path> entries = Files.list(decoy)) {
                assertEquals(List.of(), entries.toList(), "nothing was put through the link");
            }
        }

        @Test
        void aRegularFileIsRefused() throws Exception {
            Files.writeString(sockets.runtimeDir(), "x");

            var e = assertThrows(StorageException.class, () -> sockets.shortDir(tmp));

            assertTrue(e.getMessage().contains("is not a directory"), e.getMessage());
        }

        @Test
        void aWiderModeIsRefusedNotRepaired() throws Exception {
            Files.createDirectory(sockets.runtimeDir());
            Files.setPosixFilePermissions(sockets.runtimeDir(),
                    PosixFilePermissions.fromString("rwxr-xr-x"));

            var e = assertThrows(StorageException.class, () -> sockets.shortDir(tmp));

            assertTrue(e.getMessage().contains("has mode 0755, not 0700"), e.getMessage());
            assertTrue(e.getMessage().contains("intercept"), e.getMessage());
            assertEquals("rwxr-xr-x", PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(sockets.runtimeDir())));
        }

        @Test
        void releaseAlsoVerifiesTheDirectory() throws Exception {
            Files.createDirectory(sockets.runtimeDir());
            Files.setPosixFilePermissions(sockets.runtimeDir(),
                    PosixFilePermissions.fromString("rwxrwxrwx"));

            assertThrows(StorageException.class, () -> sockets.release(tmp));
        }

        @Test
        void anotherUsersDirectoryIsRefused() throws Exception {
            Path dir = Files.createDirectory(sockets.runtimeDir());
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            long other = myUid(tmp) + 4242;
            try {
                Files.setAttribute(dir, "unix:uid", Math.toIntExact(other));
            } catch (IOException e) {
                // why: only a privileged user can give a directory away
                assumeTrue(false, "cannot chown here: " + e);
            }

            var e = assertThrows(StorageException.class, () -> sockets.shortDir(tmp));

            assertTrue(e.getMessage().contains("owned by uid " + other), e.getMessage());
        }

        @Test
        void anUnsafeDirectoryIsNeverUsedEvenIfItWasFineBefore() throws Exception {
            Path link = sockets.shortDir(tmp);
            Files.setPosixFilePermissions(sockets.runtimeDir(),
                    PosixFilePermissions.fromString("rwx-w--w-"));

            assertThrows(StorageException.class, () -> sockets.shortDir(tmp));
            assertThrows(StorageException.class, () -> sockets.socketPath(tmp, "a.sock"));
            assertEquals(tmp, Files.readSymbolicLink(link), "the refused directory is untouched");
        }
    }
}
