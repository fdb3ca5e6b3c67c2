package io.boxlite.home;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.StorageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BoxliteHomeTest {
    @TempDir
    Path tmp;

    static BoxliteHome homeAt(Path root) {
        return BoxliteHome.resolve(Options.builder().home(root).build(), Map.of());
    }

    static String mode(Path path) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
    }

    @Nested
    class Resolution {
        @Test
        void optionsWinOverTheEnvironment() {
            var home = BoxliteHome.resolve(Options.builder().home(Path.of("/srv/a")).build(),
                    Map.of("BOXLITE_HOME", "/srv/b"));

            assertEquals(Path.of("/srv/a"), home.root());
        }

        @Test
        void boxliteHomeIsUsedWhenNoOptionIsGiven() {
            var home = BoxliteHome.resolve(Options.defaults(), Map.of("BOXLITE_HOME", "/srv/b"));

            assertEquals(Path.of("/srv/b"), home.root());
        }

        @Test
        void defaultIsDotBoxliteInTheUserHome() {
            var home = BoxliteHome.resolve(Options.defaults(), Map.of());

            assertEquals(Path.of(System.getProperty("user.home"), ".boxlite"), home.root());
        }

        @Test
        void blankBoxliteHomeCountsAsUnset() {
            var home = BoxliteHome.resolve(Options.defaults(), Map.of("BOXLITE_HOME", "  "));

            assertEquals(Path.of(System.getProperty("user.home"), ".boxlite"), home.root());
        }

        @Test
        void boxliteHomeIsNormalized() {
            var home = BoxliteHome.resolve(Options.defaults(),
                    Map.of("BOXLITE_HOME", "/srv/x/../boxlite/"));

            assertEquals(Path.of("/srv/boxlite"), home.root());
        }

        @Test
        void relativeBoxliteHomeIsRejectedNamingTheVariable() {
            var e = assertThrows(InvalidArgumentException.class, () -> BoxliteHome.resolve(
                    Options.defaults(), Map.of("BOXLITE_HOME", "data/boxlite")));

            assertTrue(e.getMessage().contains("BOXLITE_HOME"), e.getMessage());
            assertTrue(e.getMessage().contains("'data/boxlite'"), e.getMessage());
            assertTrue(e.getMessage().contains("absolute"), e.getMessage());
        }

        @Test
        void resolvingTouchesNoFiles() {
            homeAt(tmp.resolve("home"));

            assertFalse(Files.exists(tmp.resolve("home")));
        }

        @Test
        void accessorsNameTheSeedLayout() {
            var home = homeAt(Path.of("/h"));

            assertEquals(Path.of("/h/images"), home.images());
            assertEquals(Path.of("/h/boxes"), home.boxes());
            assertEquals(Path.of("/h/boxes/web-1"), home.boxDir("web-1"));
            assertEquals(Path.of("/h/init"), home.init());
            assertEquals(Path.of("/h/logs"), home.logs());
            assertEquals(Path.of("/h/db"), home.db());
            assertEquals(Path.of("/h/tmp"), home.tmp());
            assertEquals(Path.of("/h/lock"), home.lockFile());
        }
    }

    @Nested
    class BoxIds {
        @ParameterizedTest
        @ValueSource(strings = {"a", "web-1", "Box_2", "0123456789012345678901234567890123456789"
                + "012345678901234567890123"})
        void acceptsUpTo64SafeCharacters(String id) {
            assertEquals(Path.of("/h/boxes", id), homeAt(Path.of("/h")).boxDir(id));
        }

        @ParameterizedTest
        @ValueSource(strings = {"", "..", "a/b", "../etc", "a b", "bøx", "a.b",
            "01234567890123456789012345678901234567890123456789012345678901234"})
        void rejectsAnythingElseNamingTheBadId(String id) {
            var e = assertThrows(InvalidArgumentException.class,
                    () -> homeAt(Path.of("/h")).boxDir(id));

            assertTrue(e.getMessage().contains("'" + id + "'"), e.getMessage());
        }
    }

    @Nested
    class Opening {
        @Test
        void createsTheLayoutWithOwnerOnlyModes() throws Exception {
            var home = homeAt(tmp.resolve("home")).open();

            for (Path dir : List.of(home.root(), home.images(), home.boxes(), home.init(),
                    home.logs(), home.db(), home.tmp())) {
                assertTrue(Files.isDirectory(dir), dir + " is a directory");
                assertEquals("rwx------", mode(dir), dir.toString());
            }
            assertTrue(Files.isRegularFile(home.lockFile()));
            assertEquals("rw-------", mode(home.lockFile()));
        }

        @Test
        void createsMissingParentDirectories() {
            var home = homeAt(tmp.resolve("a/b/c/home")).open();

            assertTrue(Files.isDirectory(home.boxes()));
        }

        @Test
        void isIdempotentAndKeepsExistingContent() throws Exception {
            var home = homeAt(tmp.resolve("home")).open();
            Files.writeString(home.lockFile(), "1234");
            Files.createDirectory(home.boxDir("web"));

            home.open();

            assertEquals("1234", Files.readString(home.lockFile()));
            assertTrue(Files.isDirectory(home.boxDir("web")));
        }

        @Test
        void keepsTheModeOfDirectoriesItDidNotCreate() throws Exception {
            Path root = Files.createDirectory(tmp.resolve("home"));
            Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));

            homeAt(root).open();

            assertEquals("rwxr-xr-x", mode(root));
        }

        @Test
        void concurrentOpensAllSucceed() throws Exception {
            var home = homeAt(tmp.resolve("home"));
            int threads = 8;
            var barrier = new CyclicBarrier(threads);
            try (var pool = Executors.newFixedThreadPool(threads)) {
                List<Future<BoxliteHome>> results = new ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    results.add(pool.submit(() -> {
                        barrier.await();
                        return home.open();
                    }));
                }
                for (var result : results) {
                    assertEquals(home, result.get());
                }
            }
        }

        @Test
        void aHomeThatIsARegularFileIsRefusedWithAdvice() throws Exception {
            Path file = Files.writeString(tmp.resolve("home"), "not a dir");

            var e = assertThrows(StorageException.class, () -> homeAt(file).open());

            assertTrue(e.getMessage().contains(file + " exists but is not a directory"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("BOXLITE_HOME"), e.getMessage());
            assertEquals("not a dir", Files.readString(file));
        }

        @Test
        void aHomeBelowARegularFileCannotBeCreated() throws Exception {
            Path file = Files.writeString(tmp.resolve("file"), "x");

            var e = assertThrows(StorageException.class,
                    () -> homeAt(file.resolve("home")).open());

            assertTrue(e.getMessage().contains("Cannot create"), e.getMessage());
        }

        @Test
        void aLayoutEntryOfTheWrongTypeIsRefusedNamingIt() throws Exception {
            Path root = Files.createDirectory(tmp.resolve("home"));
            Files.writeString(root.resolve("images"), "x");

            var e = assertThrows(StorageException.class, () -> homeAt(root).open());

            assertTrue(e.getMessage().contains(root.resolve("images") + " exists but is not a "
                    + "directory"), e.getMessage());
        }

        @Test
        void aLockThatIsADirectoryIsRefused() throws Exception {
            Path root = Files.createDirectory(tmp.resolve("home"));
            Files.createDirectory(root.resolve("lock"));

            var e = assertThrows(StorageException.class, () -> homeAt(root).open());

            assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        }

        @Test
        void aHomeThatIsNotWritableIsRefusedWithAdvice() throws Exception {
            // why: root passes every permission check, so the refusal cannot be provoked as root
            assumeFalse(Integer.valueOf(0).equals(Files.getAttribute(tmp, "unix:uid")),
                    "running as root");
            Path root = Files.createDirectory(tmp.resolve("home"));
            Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("r-x------"));
            try {
                var e = assertThrows(StorageException.class, () -> homeAt(root).open());

                assertTrue(e.getMessage().contains("not writable"), e.getMessage());
                assertTrue(e.getMessage().contains("BOXLITE_HOME"), e.getMessage());
            } finally {
                Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
            }
        }

        @Test
        void equalHomesHaveEqualRoots() {
            assertEquals(homeAt(Path.of("/h")), homeAt(Path.of("/h/")));
            assertEquals(homeAt(Path.of("/h")).hashCode(), homeAt(Path.of("/h/")).hashCode());
        }
    }
}
