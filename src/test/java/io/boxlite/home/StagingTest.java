package io.boxlite.home;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.AlreadyExistsException;
import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.StorageException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StagingTest {
    @TempDir
    Path tmp;

    BoxliteHome home;
    Staging staging;

    @BeforeEach
    void openHome() {
        home = BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build(), Map.of())
                .open();
        staging = home.staging();
    }

    List<String> leftoversInTmp() throws IOException {
        try (Stream<Path> entries = Files.list(home.tmp())) {
            return entries.map(p -> p.getFileName().toString()).toList();
        }
    }

    static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Nested
    class WriteAtomically {
        @Test
        void createsTheTarget() throws Exception {
            Path target = home.db().resolve("config.json");

            staging.writeAtomically(target, bytes("{}"));

            assertEquals("{}", Files.readString(target));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void replacesExistingContent() throws Exception {
            Path target = Files.writeString(home.db().resolve("config.json"), "old and longer");

            staging.writeAtomically(target, bytes("new"));

            assertEquals("new", Files.readString(target));
        }

        @Test
        void stagesInTheHomesTmpNotTheSystemTmp() {
            var seen = new ArrayList<Path>();

            staging.writeAtomically(home.db().resolve("x"), staged -> {
                seen.add(staged);
                Files.writeString(staged, "x");
            });

            assertEquals(home.tmp(), seen.getFirst().getParent());
        }

        @Test
        void aFailingWriterLeavesTheOldContentAndNoTempFiles() throws Exception {
            Path target = Files.writeString(home.db().resolve("config.json"), "old");
            var cause = new IOException("network dropped");

            var e = assertThrows(StorageException.class, () ->
                    staging.writeAtomically(target, staged -> {
                        Files.writeString(staged, "half of the ne");
                        throw cause;
                    }));

            assertSame(cause, e.getCause());
            assertTrue(e.getMessage().contains(target.toString()), e.getMessage());
            assertEquals("old", Files.readString(target));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void aWriterRuntimeExceptionPropagatesUnwrappedAndIsCleanedUp() throws Exception {
            Path target = home.db().resolve("config.json");
            var bug = new IllegalStateException("bug in the writer");

            var e = assertThrows(IllegalStateException.class, () ->
                    staging.writeAtomically(target, staged -> {
                        Files.writeString(staged, "partial");
                        throw bug;
                    }));

            assertSame(bug, e);
            assertFalse(Files.exists(target));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void aWriterThatLeavesADirectoryIsRejectedAndCleanedUp() throws Exception {
            Path target = home.db().resolve("config.json");

            assertThrows(InvalidArgumentException.class, () ->
                    staging.writeAtomically(target, staged -> {
                        Files.delete(staged);
                        Files.createDirectory(staged);
                        Files.writeString(staged.resolve("inner"), "x");
                    }));

            assertFalse(Files.exists(target));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void aMissingParentFailsWithoutLeftovers() throws Exception {
            Path target = home.boxes().resolve("no-such-box/config.json");

            var e = assertThrows(StorageException.class,
                    () -> staging.writeAtomically(target, bytes("{}")));

            assertInstanceOf(NoSuchFileException.class, e.getCause());
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void aTargetOutsideTheHomeIsRejected() throws Exception {
            Path outside = tmp.resolve("outside.json");

            var e = assertThrows(InvalidArgumentException.class,
                    () -> staging.writeAtomically(outside, bytes("{}")));

            assertTrue(e.getMessage().contains("not inside the BoxLite home"), e.getMessage());
            assertFalse(Files.exists(outside));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void aTargetEscapingTheHomeWithDotDotIsRejected() {
            Path sneaky = home.db().resolve("../../outside.json");

            assertThrows(InvalidArgumentException.class,
                    () -> staging.writeAtomically(sneaky, bytes("{}")));
        }

        @Test
        void concurrentWritersEndWithOneCompleteContentAndReadersNeverSeeAPartialOne()
                throws Exception {
            Path target = home.db().resolve("state.bin");
            int writers = 6;
            int rounds = 20;
            int size = 256 * 1024;
            staging.writeAtomically(target, filled((byte) 'a', size));
            var barrier = new CyclicBarrier(writers + 1);
            var done = new AtomicBoolean();
            var reads = new AtomicInteger();
            try (var pool = Executors.newFixedThreadPool(writers + 1)) {
                List<Future<?>> tasks = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    byte fill = (byte) ('b' + w);
                    tasks.add(pool.submit(() -> {
                        barrier.await();
                        for (int r = 0; r < rounds; r++) {
                            staging.writeAtomically(target, filled(fill, size));
                        }
                        return null;
                    }));
                }
                Future<?> reader = pool.submit(() -> {
                    barrier.await();
                    while (!done.get()) {
                        assertUniform(Files.readAllBytes(target), size);
                        reads.incrementAndGet();
                    }
                    return null;
                });
                for (var task : tasks) {
                    task.get();
                }
                done.set(true);
                reader.get();
            }

            byte[] last = Files.readAllBytes(target);
            assertUniform(last, size);
            assertTrue(last[0] >= 'b' && last[0] < 'b' + writers, "one writer's content");
            assertTrue(reads.get() > 0, "the reader ran");
            assertEquals(List.of(), leftoversInTmp());
        }

        static byte[] filled(byte value, int size) {
            byte[] data = new byte[size];
            Arrays.fill(data, value);
            return data;
        }

        static void assertUniform(byte[] data, int size) {
            assertEquals(size, data.length, "complete length");
            byte[] expected = filled(data[0], size);
            assertArrayEquals(expected, data, "a single writer's content");
        }
    }

    @Nested
    class PublishDirectory {
        @Test
        void newStagingDirsAreOwnerOnlyAndLiveInTmp() throws Exception {
            Path staged = staging.newStagingDir("layer");

            assertEquals(home.tmp(), staged.getParent());
            assertTrue(staged.getFileName().toString().startsWith("staging-layer-"));
            assertEquals("rwx------",
                    PosixFilePermissions.toString(Files.getPosixFilePermissions(staged)));
        }

        @Test
        void movesTheStagedTreeIntoPlace() throws Exception {
            Path staged = staging.newStagingDir("layer");
            Files.createDirectories(staged.resolve("usr/bin"));
            Files.writeString(staged.resolve("usr/bin/tool"), "#!/bin/sh\n");
            Path target = home.images().resolve("sha256-abc");

            staging.publishDirectory(staged, target);

            assertEquals("#!/bin/sh\n", Files.readString(target.resolve("usr/bin/tool")));
            assertFalse(Files.exists(staged));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void anExistingTargetFailsLeavesItUntouchedAndDiscardsTheStagedCopy() throws Exception {
            Path target = Files.createDirectory(home.images().resolve("sha256-abc"));
            Files.writeString(target.resolve("kept"), "first");
            Path staged = staging.newStagingDir("layer");
            Files.writeString(staged.resolve("kept"), "second");

            var e = assertThrows(AlreadyExistsException.class,
                    () -> staging.publishDirectory(staged, target));

            assertTrue(e.getMessage().contains(target.toString()), e.getMessage());
            assertEquals("first", Files.readString(target.resolve("kept")));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void anExistingFileTargetAlsoCountsAsExisting() throws Exception {
            Path target = Files.writeString(home.images().resolve("sha256-abc"), "file");
            Path staged = staging.newStagingDir("layer");

            assertThrows(AlreadyExistsException.class,
                    () -> staging.publishDirectory(staged, target));

            assertEquals("file", Files.readString(target));
            assertEquals(List.of(), leftoversInTmp());
        }

        @Test
        void onlyDirectoriesFromNewStagingDirAreAccepted() throws Exception {
            Path elsewhere = Files.createDirectory(tmp.resolve("not-staged"));
            Path unmarked = Files.createDirectory(home.tmp().resolve("mine"));

            assertThrows(InvalidArgumentException.class, () ->
                    staging.publishDirectory(elsewhere, home.images().resolve("a")));
            assertThrows(InvalidArgumentException.class, () ->
                    staging.publishDirectory(unmarked, home.images().resolve("a")));
            assertTrue(Files.isDirectory(elsewhere), "rejected input is not deleted");
            assertTrue(Files.isDirectory(unmarked), "rejected input is not deleted");
        }

        @Test
        void malformedPrefixesAreRejected() {
            for (String prefix : List.of("", "a/b", "with space", "x".repeat(65))) {
                assertThrows(InvalidArgumentException.class,
                        () -> staging.newStagingDir(prefix), prefix);
            }
        }
    }

    @Nested
    class SweepStale {
        static final FileTime TWO_HOURS_AGO =
                FileTime.from(Instant.now().minus(Duration.ofHours(2)));

        @Test
        void removesOldStagingEntriesAndKeepsEverythingElse() throws Exception {
            Path oldFile = Files.writeString(home.tmp().resolve("staging-file-1.tmp"), "x");
            Files.setLastModifiedTime(oldFile, TWO_HOURS_AGO);
            Path oldDir = staging.newStagingDir("layer");
            Path oldInner = Files.writeString(oldDir.resolve("inner"), "x");
            Files.setLastModifiedTime(oldInner, TWO_HOURS_AGO);
            Files.setLastModifiedTime(oldDir, TWO_HOURS_AGO);
            Path fresh = staging.newStagingDir("fresh");
            Path foreign = Files.writeString(home.tmp().resolve("not-ours"), "x");
            Files.setLastModifiedTime(foreign, TWO_HOURS_AGO);

            int removed = staging.sweepStale();

            assertEquals(2, removed);
            assertFalse(Files.exists(oldFile));
            assertFalse(Files.exists(oldDir));
            assertTrue(Files.exists(fresh));
            assertTrue(Files.exists(foreign));
        }

        @Test
        void keepsAnOldDirectoryThatIsStillBeingFilled() throws Exception {
            Path dir = staging.newStagingDir("slow");
            Files.writeString(dir.resolve("recent"), "x");
            Files.setLastModifiedTime(dir, TWO_HOURS_AGO);

            assertEquals(0, staging.sweepStale());
            assertTrue(Files.exists(dir.resolve("recent")));
        }

        @Test
        void honoursAShorterAge() throws Exception {
            Path file = Files.writeString(home.tmp().resolve("staging-file-2.tmp"), "x");
            Files.setLastModifiedTime(file, FileTime.from(Instant.now().minusSeconds(120)));

            assertEquals(0, staging.sweepStale());
            assertEquals(1, staging.sweepStale(Duration.ofMinutes(1)));
        }

        @Test
        void aHomeThatWasNeverOpenedHasNothingToSweep() {
            var unopened = BoxliteHome.resolve(
                    Options.builder().home(tmp.resolve("never")).build(), Map.of());

            assertEquals(0, unopened.staging().sweepStale());
        }
    }
}
