package io.boxlite.runtime;

import io.boxlite.AlreadyExistsException;
import io.boxlite.Box;
import io.boxlite.BoxInfo;
import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.Boxlite;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.NetworkMode;
import io.boxlite.NotFoundException;
import io.boxlite.Options;
import io.boxlite.UnsupportedException;
import io.boxlite.home.BoxliteHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

/** The box store without booting anything: create, names, lookup, validation, rebuild, errors. */
class BoxStoreTest {
    @TempDir
    Path dir;

    private Boxlite open(Path home) {
        return Boxlite.open(Options.builder().home(home).build());
    }

    private static BoxOptions.Builder busybox() {
        return BoxOptions.builder().image(BoxTestSupport.IMAGE).autoRemove(false);
    }

    @Test
    void createPersistsAConfiguredBoxWithTheSeedsConfigFileAndFindsItByIdPrefixAndName() throws Exception {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        try (Boxlite runtime = open(home)) {
            Box box = runtime.create(busybox().cpus(2).memoryMib(512).build(), "alpha");
            assertTrue(Ulid.isUlid(box.id()), box.id());
            BoxInfo info = box.info();
            assertEquals(BoxState.CONFIGURED, info.state());
            assertEquals(BoxTestSupport.IMAGE, info.image());
            assertEquals(2, info.cpus());

            var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                    home.resolve("boxes").resolve(box.id()).resolve("config.json").toFile());
            for (String field : List.of("id", "image", "cpus", "memory_mib", "volumes", "ports", "created_at", "status")) {
                assertTrue(json.has(field), "config.json has " + field + ": " + json);
            }
            assertEquals("configured", json.get("status").asText());
            assertEquals(512, json.get("memory_mib").asInt());

            assertEquals(box.id(), runtime.get("alpha").orElseThrow().id());
            assertEquals(box.id(), runtime.get(box.id().substring(0, 20)).orElseThrow().id());
            assertEquals(box.id(), runtime.get(box.id().substring(0, 20).toLowerCase()).orElseThrow().id());
            Box beta = runtime.create(busybox().build(), "beta");
            String common = commonPrefix(box.id(), beta.id());
            assertTrue(common.length() >= 4, common);
            assertThrows(InvalidArgumentException.class, () -> runtime.get(common));
            assertTrue(runtime.get("no-such-box").isEmpty());
            assertEquals(List.of(beta.id(), box.id()), runtime.list().stream().map(BoxInfo::id).toList(),
                    "newest first");

            assertThrows(AlreadyExistsException.class, () -> runtime.create(busybox().build(), "alpha"));

            var first = runtime.getOrCreate(busybox().build(), "gamma");
            var second = runtime.getOrCreate(busybox().build(), "gamma");
            assertTrue(first.created());
            assertFalse(second.created());
            assertEquals(first.box().id(), second.box().id());

            runtime.remove("beta", false);
            assertTrue(runtime.get("beta").isEmpty());
            assertFalse(Files.exists(home.resolve("boxes").resolve(beta.id())));
            assertThrows(NotFoundException.class, () -> runtime.remove("beta", false));
        }
    }

    private static String commonPrefix(String a, String b) {
        int i = 0;
        while (i < a.length() && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return a.substring(0, i);
    }

    @Test
    void invalidOptionsFailAtCreateNamingTheField() {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        try (Boxlite runtime = open(home)) {
            Map<String, BoxOptions> bad = new HashMap<>();
            bad.put("cpus", busybox().cpus(0).build());
            bad.put("memoryMib", busybox().memoryMib(64).build());
            bad.put("image", busybox().image("Not A Reference!").build());
            bad.put("workingDir", busybox().workingDir("relative/dir").build());
            bad.put("volumes", busybox().volume(Path.of("relative"), "/data", false).build());
            bad.put("env", busybox().env("A=B", "x").build());
            bad.put("diskSizeGb", busybox().diskSizeGb(-1).build());
            bad.forEach((field, options) -> {
                var e = assertThrows(InvalidArgumentException.class, () -> runtime.create(options), field);
                assertTrue(e.getMessage().startsWith(field + ":"), field + " → " + e.getMessage());
            });
            var name = assertThrows(InvalidArgumentException.class, () -> runtime.create(busybox().build(), "bad name"));
            assertTrue(name.getMessage().startsWith("name:"), name.getMessage());

            assertTrue(assertThrows(UnsupportedException.class, () -> runtime.create(busybox()
                    .volume(Path.of("/tmp"), "/data", true).build())).getMessage().startsWith("volumes:"));
            assertTrue(assertThrows(UnsupportedException.class, () -> runtime.create(busybox().port(8080, 80).build()))
                    .getMessage().startsWith("ports:"));
            assertTrue(assertThrows(UnsupportedException.class, () -> runtime.create(busybox()
                    .network(NetworkMode.ENABLED).build())).getMessage().startsWith("network:"));
            var tooBig = assertThrows(InvalidArgumentException.class, () -> runtime.create(busybox()
                    .diskSizeGb(BoxRuntime.MAX_DISK_SIZE_GB + 1).build()));
            assertTrue(tooBig.getMessage().startsWith("diskSizeGb:"), tooBig.getMessage());
            assertTrue(runtime.list().isEmpty(), "nothing was created");
        }
    }

    @Test
    void concurrentCreatesFromEightVirtualThreadsGetDistinctIdsAndOneWinnerPerName() throws Exception {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        try (Boxlite runtime = open(home); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Box>> distinct = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String name = "worker-" + i;
                distinct.add(pool.submit(() -> runtime.create(busybox().build(), name)));
            }
            Set<String> ids = new HashSet<>();
            for (Future<Box> f : distinct) {
                ids.add(f.get().id());
            }
            assertEquals(8, ids.size());

            List<Future<Box>> same = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                same.add(pool.submit((Callable<Box>) () -> runtime.create(busybox().build(), "contested")));
            }
            int won = 0;
            for (Future<Box> f : same) {
                try {
                    f.get();
                    won++;
                } catch (ExecutionException e) {
                    assertInstanceOf(AlreadyExistsException.class, e.getCause());
                }
            }
            assertEquals(1, won);
            assertEquals(9, runtime.list().size());
            assertEquals(9, Files.list(home.resolve("boxes")).count());
        }
    }

    @Test
    void aMissingOrDamagedDatabaseIsRebuiltFromTheConfigFiles() throws Exception {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        List<String> ids = new ArrayList<>();
        try (Boxlite runtime = open(home)) {
            ids.add(runtime.create(busybox().build(), "one").id());
            ids.add(runtime.create(busybox().cpus(3).build()).id());
        }
        Path db = home.resolve("db/boxes.db");
        deleteDatabase(db);
        try (Boxlite runtime = open(home)) {
            assertEquals(List.of(ids.get(1), ids.get(0)), runtime.list().stream().map(BoxInfo::id).toList());
            assertEquals(ids.get(0), runtime.get("one").orElseThrow().id());
            assertEquals(3, runtime.info(ids.get(1)).orElseThrow().cpus());
        }
        deleteDatabase(db);
        Files.writeString(db, "this is not an SQLite database, it was damaged ".repeat(200));
        try (Boxlite runtime = open(home)) {
            assertEquals(2, runtime.list().size());
            assertEquals(ids.get(0), runtime.get("one").orElseThrow().id());
        }
        try (var files = Files.list(home.resolve("db"))) {
            assertTrue(files.anyMatch(p -> p.getFileName().toString().startsWith("boxes.db.corrupt-")),
                    "the damaged database is kept aside");
        }
    }

    private static void deleteDatabase(Path db) throws Exception {
        for (String suffix : List.of("", "-wal", "-shm")) {
            Files.deleteIfExists(db.resolveSibling(db.getFileName() + suffix));
        }
    }

    @Test
    void aDatabaseLockedByAnotherProcessIsADatabaseError() throws Exception {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        open(home).close();
        try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + home.resolve("db/boxes.db"));
             Statement s = other.createStatement()) {
            s.execute("PRAGMA locking_mode=EXCLUSIVE");
            s.execute("BEGIN EXCLUSIVE");
            BoxliteHome h = BoxliteHome.resolve(Options.builder().home(home).build());
            var e = assertThrows(BoxliteException.class, () -> BoxStore.open(h, 300));
            assertEquals(ErrorCode.DATABASE, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("locked"), e.getMessage());
            s.execute("ROLLBACK");
        }
    }

    @Test
    void aFullHomeIsResourceExhausted() throws Exception {
        Path mount = Files.createDirectories(dir.resolve("tmpfs"));
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            System.err.println("*** SKIPPING the full-home test: cannot mount a tmpfs (" + out.strip() + ") ***");
            org.junit.jupiter.api.Assumptions.abort("mounting a tmpfs needs root");
        }
        try {
            Path home = BoxTestSupport.homeWithImage(mount.resolve("home"));
            try (Boxlite runtime = open(home)) {
                Path filler = mount.resolve("filler");
                new ProcessBuilder("fallocate", "-l", Files.getFileStore(mount).getUsableSpace() + "", filler.toString())
                        .start().waitFor();
                var e = assertThrows(BoxliteException.class, () -> runtime.create(busybox().build()));
                assertEquals(ErrorCode.RESOURCE_EXHAUSTED, e.code(), e.getMessage());
            }
        } finally {
            new ProcessBuilder("umount", "-l", mount.toString()).start().waitFor();
        }
    }

    @Test
    void otherErrorsCarryTheirCodes() {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        try (Boxlite runtime = open(home)) {
            assertEquals(ErrorCode.NOT_FOUND, assertThrows(BoxliteException.class,
                    () -> runtime.remove("ghost", false)).code());
            var image = assertThrows(BoxliteException.class, () -> runtime.create(BoxOptions.builder()
                    .image("127.0.0.1:9/absent:latest").build()));
            assertEquals(ErrorCode.IMAGE, image.code(), image.getMessage());
            Box box = runtime.create(busybox().cmd("sh").build());
            var e = assertThrows(InvalidStateException.class, () -> box.exec(io.boxlite.BoxCommand.of("true")));
            assertTrue(e.getMessage().contains("main command"), e.getMessage());
        }
        Map<String, String> noQemu = new HashMap<>(System.getenv());
        noQemu.put("PATH", dir.resolve("empty").toString());
        try (Boxlite runtime = Boxlite.open(Options.builder().home(home).build(), noQemu)) {
            Box box = runtime.create(busybox().build());
            var e = assertThrows(BoxliteException.class, box::start);
            assertEquals(ErrorCode.ENGINE, e.code(), e.getMessage());
            BoxInfo failed = box.info();
            assertEquals(BoxState.FAILED, failed.state());
            assertTrue(failed.error().orElseThrow().contains("qemu"), failed.toString());
        }
    }

    static void forEachBox(Boxlite runtime, Consumer<BoxInfo> action) {
        runtime.list().forEach(action);
    }
}
