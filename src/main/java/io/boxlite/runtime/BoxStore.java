package io.boxlite.runtime;

import io.boxlite.BoxState;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.StorageException;
import io.boxlite.engine.qemu.ProcessIdentity;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.store.FileLocks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Boxes on disk: {@code db/boxes.db} plus {@code boxes/{id}/} with its {@code config.json}.
 * Structural changes (create, remove, recovery) run under the home's {@code lock} (slot 0), so
 * several processes sharing a home never see a half-made box; status updates need only SQLite.
 *
 * <p>Create stages the box directory (with {@code config.json}) in {@code tmp/}, adds the row,
 * then renames the directory into {@code boxes/}; remove renames it out first, then deletes the
 * row and the files. A crash at any point leaves either a whole box or nothing that recovery
 * does not clean.
 */
public final class BoxStore implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(BoxStore.class.getName());
    public static final String CONFIG = "config.json";
    static final Duration LOCK_TIMEOUT = Duration.ofSeconds(60);

    private final BoxliteHome home;
    private final BoxDatabase db;

    private BoxStore(BoxliteHome home, BoxDatabase db) {
        this.home = home;
        this.db = db;
    }

    /**
     * Opens the store: a missing or damaged database is rebuilt from the {@code config.json}
     * files (a damaged one is kept beside as {@code boxes.db.corrupt-<time>}).
     */
    public static BoxStore open(BoxliteHome home, int busyTimeoutMs) {
        Path file = home.db().resolve("boxes.db");
        try (FileLocks.Held lock = homeLock(home)) {
            boolean existed = Files.exists(file);
            BoxDatabase db;
            try {
                db = BoxDatabase.open(file, busyTimeoutMs);
            } catch (BoxDatabase.CorruptException e) {
                Path aside = file.resolveSibling("boxes.db.corrupt-" + Instant.now().toEpochMilli());
                LOG.log(System.Logger.Level.WARNING, "{0}; moving it to {1} and rebuilding it from the boxes'' "
                        + "config.json files", e.getMessage(), aside);
                moveAside(file, aside);
                existed = false;
                db = BoxDatabase.open(file, busyTimeoutMs);
            }
            BoxStore store = new BoxStore(home, db);
            if (!existed) {
                int n = store.importConfigFiles();
                if (n > 0) {
                    LOG.log(System.Logger.Level.WARNING, "Rebuilt {0} box record(s) in {1} from config.json files",
                            n, file);
                }
            }
            return store;
        }
    }

    private static void moveAside(Path file, Path aside) {
        try {
            Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
            for (String suffix : List.of("-wal", "-shm")) {
                Path side = file.resolveSibling(file.getFileName() + suffix);
                if (Files.exists(side)) {
                    Files.move(side, aside.resolveSibling(aside.getFileName() + suffix), StandardCopyOption.ATOMIC_MOVE);
                }
            }
        } catch (IOException e) {
            throw new StorageException("Cannot move the damaged box database " + file + " aside", e);
        }
    }

    static FileLocks.Held homeLock(BoxliteHome home) {
        return FileLocks.acquire(home.lockFile(), 0, LOCK_TIMEOUT, "the BoxLite home " + home.root());
    }

    public BoxliteHome home() {
        return home;
    }

    public Path boxDir(String id) {
        return home.boxDir(id);
    }

    /** Creates the box's directory, {@code config.json} and row, atomically as a whole. */
    public void create(BoxConfig config, BoxStatus status) {
        Path staged = home.staging().newStagingDir("box-" + config.id());
        try {
            Files.write(staged.resolve(CONFIG), BoxJson.configFile(config, status));
            Files.createDirectories(staged.resolve("logs"));
        } catch (IOException e) {
            Trees.deleteTree(staged);
            throw storageFailure("create the directory of box " + config.id(), e);
        }
        try (FileLocks.Held lock = homeLock(home)) {
            db.insert(config, status);
            try {
                Files.move(staged, boxDir(config.id()), StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                db.delete(config.id());
                throw storageFailure("publish the directory of box " + config.id(), e);
            }
        } finally {
            Trees.deleteTree(staged);
        }
    }

    /** Records a new status in the database and {@code config.json}; false if the box is gone. */
    public boolean update(BoxConfig config, BoxStatus status) {
        if (!db.updateStatus(config.id(), status)) {
            return false;
        }
        Path dir = boxDir(config.id());
        if (Files.isDirectory(dir)) {
            try {
                home.staging().writeAtomically(dir.resolve(CONFIG), BoxJson.configFile(config, status));
            } catch (BoxliteException e) {
                LOG.log(System.Logger.Level.WARNING, "Cannot update config.json of box {0}: {1}", config.id(),
                        e.getMessage());
            }
        }
        return true;
    }

    /** Removes the box's row and files; {@code beforeDelete} runs under the lock with the row still there. */
    public void delete(String id, Consumer<BoxConfig> beforeDelete) {
        try (FileLocks.Held lock = homeLock(home)) {
            Optional<BoxDatabase.Row> row = db.find(id);
            Path dir = boxDir(id);
            Path doomed = home.tmp().resolve("staging-removed-" + id);
            try {
                if (Files.exists(dir)) {
                    Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
                }
            } catch (IOException e) {
                throw storageFailure("remove the directory of box " + id, e);
            }
            row.ifPresent(r -> beforeDelete.accept(r.config()));
            db.delete(id);
            Trees.deleteTree(doomed);
        }
    }

    public Optional<BoxDatabase.Row> find(String id) {
        return db.find(id);
    }

    public Optional<BoxDatabase.Row> findByName(String name) {
        return db.findByName(name);
    }

    public List<BoxDatabase.Row> findByIdPrefix(String prefix) {
        return db.findByIdPrefix(prefix);
    }

    public List<BoxDatabase.Row> list() {
        return db.list();
    }

    /**
     * Recovery: rows whose directory is gone (a create or remove that crashed) are dropped;
     * directories without a row get one from their {@code config.json}; a running box whose
     * host process is dead (PID + start time, and its host lock free) becomes stopped, its
     * orphaned engine process is killed, and it is removed if it was to be removed on stop.
     *
     * @return the ids of boxes found dead
     */
    public List<String> recover(Consumer<BoxDatabase.Row> removeOnStop) {
        List<String> dead = new ArrayList<>();
        List<BoxDatabase.Row> autoRemoved = new ArrayList<>();
        try (FileLocks.Held lock = homeLock(home)) {
            for (BoxDatabase.Row row : db.list()) {
                String id = row.config().id();
                if (!Files.isRegularFile(boxDir(id).resolve(CONFIG))) {
                    LOG.log(System.Logger.Level.WARNING, "Dropping box {0}: its directory is gone", id);
                    db.delete(id);
                    continue;
                }
                BoxState s = row.status().state();
                if ((s == BoxState.RUNNING || s == BoxState.STOPPING) && !hostAlive(id, row.status())) {
                    HostLocks.killOrphanEngine(boxDir(id));
                    BoxStatus stopped = row.status().ended(BoxState.STOPPED, Optional.empty(),
                            Optional.of("its host process died"));
                    update(row.config(), stopped);
                    dead.add(id);
                    if (row.config().options().autoRemove()) {
                        autoRemoved.add(new BoxDatabase.Row(row.config(), stopped));
                    }
                }
            }
            importConfigFiles();
        }
        autoRemoved.forEach(removeOnStop);
        return dead;
    }

    /** Whether the process recorded as the box's host still runs and holds the box. */
    public boolean hostAlive(String id, BoxStatus status) {
        boolean identityAlive = status.host().flatMap(ProcessIdentity::decode).map(ProcessIdentity::isStillRunning)
                .orElse(false);
        return identityAlive && HostLocks.held(boxDir(id));
    }

    private int importConfigFiles() {
        int imported = 0;
        if (!Files.isDirectory(home.boxes())) {
            return 0;
        }
        try (var dirs = Files.list(home.boxes())) {
            for (Path dir : dirs.toList()) {
                Path file = dir.resolve(CONFIG);
                if (!Files.isRegularFile(file)) {
                    continue;
                }
                try {
                    Map.Entry<BoxConfig, BoxStatus> parsed = BoxJson.parseConfigFile(Files.readAllBytes(file),
                            file.toString());
                    if (!parsed.getKey().id().equals(dir.getFileName().toString())) {
                        LOG.log(System.Logger.Level.WARNING, "Skipping {0}: its id does not match its directory", file);
                        continue;
                    }
                    if (db.find(parsed.getKey().id()).isEmpty()) {
                        db.insert(parsed.getKey(), parsed.getValue());
                        imported++;
                    }
                } catch (IOException | BoxliteException e) {
                    LOG.log(System.Logger.Level.WARNING, "Cannot rebuild the record of {0}: {1}", dir, e.getMessage());
                }
            }
        } catch (NoSuchFileException e) {
            return imported;
        } catch (IOException e) {
            throw storageFailure("scan " + home.boxes(), e);
        }
        return imported;
    }

    private static BoxliteException storageFailure(String what, IOException e) {
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("No space left")) {
            return new BoxliteException(ErrorCode.RESOURCE_EXHAUSTED, "Cannot " + what
                    + ": the disk holding the BoxLite home is full; free space and retry", e);
        }
        return new StorageException("Cannot " + what + ": " + e.getMessage(), e);
    }

    @Override
    public void close() {
        db.close();
    }
}
