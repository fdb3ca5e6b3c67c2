package io.boxlite.runtime;

import io.boxlite.AlreadyExistsException;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code db/boxes.db}: the box index. SQLite in WAL mode with a busy timeout and immediate write
 * transactions, so the CLI, applications and detached box hosts can share one home. A few
 * queryable columns plus the JSON of the record (BoxLite's pattern). Thread-safe: one connection,
 * synchronized methods.
 *
 * <pre>
 * schema_version(id = 1, version, updated_at)
 * box_config(id TEXT PK, name TEXT UNIQUE, created_at INTEGER, json TEXT)
 * box_state(id TEXT PK → box_config ON DELETE CASCADE, status TEXT, pid INTEGER, json TEXT)
 * </pre>
 */
public final class BoxDatabase implements AutoCloseable {
    static final int SCHEMA_VERSION = 1;
    static final int BUSY_TIMEOUT_MS = 30_000;

    /** One box as stored. */
    public record Row(BoxConfig config, BoxStatus status) {
    }

    /** The file is not an SQLite database, or is damaged: the caller rebuilds it. */
    public static final class CorruptException extends BoxliteException {
        private static final long serialVersionUID = 1L;

        CorruptException(String message, Throwable cause) {
            super(ErrorCode.DATABASE, message, cause);
        }
    }

    private final Path file;
    private final Connection connection;

    private BoxDatabase(Path file, Connection connection) {
        this.file = file;
        this.connection = connection;
    }

    /**
     * Opens (creating if needed) and migrates the database.
     *
     * @throws CorruptException if the file is damaged or not a database
     * @throws BoxliteException ({@link ErrorCode#DATABASE}) if it cannot be opened or written
     */
    public static BoxDatabase open(Path file, int busyTimeoutMs) {
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        config.setBusyTimeout(busyTimeoutMs);
        config.enforceForeignKeys(true);
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        Connection connection;
        try {
            connection = config.createConnection("jdbc:sqlite:" + file);
        } catch (SQLException e) {
            throw failure(file, "open", e);
        }
        BoxDatabase db = new BoxDatabase(file, connection);
        try {
            db.migrate();
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        return db;
    }

    public Path file() {
        return file;
    }

    private void migrate() {
        try (Statement s = connection.createStatement()) {
            try (ResultSet rs = s.executeQuery("PRAGMA quick_check")) {
                String verdict = rs.next() ? rs.getString(1) : "no answer";
                if (!"ok".equals(verdict)) {
                    throw new CorruptException("The box database " + file + " is damaged: " + verdict, null);
                }
            }
            // why: IMMEDIATE, so two processes creating the schema at once take turns
            connection.setAutoCommit(false);
            s.execute("CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
                    + "version INTEGER NOT NULL, updated_at INTEGER NOT NULL)");
            int version = 0;
            try (ResultSet rs = s.executeQuery("SELECT version FROM schema_version WHERE id = 1")) {
                if (rs.next()) {
                    version = rs.getInt(1);
                }
            }
            if (version > SCHEMA_VERSION) {
                rollback();
                throw new BoxliteException(ErrorCode.DATABASE, "The box database " + file + " has schema version "
                        + version + ", newer than this BoxLite understands (" + SCHEMA_VERSION + "): upgrade BoxLite");
            }
            if (version < 1) {
                s.execute("CREATE TABLE IF NOT EXISTS box_config (id TEXT PRIMARY KEY, name TEXT UNIQUE, "
                        + "created_at INTEGER NOT NULL, json TEXT NOT NULL)");
                s.execute("CREATE INDEX IF NOT EXISTS box_config_created ON box_config(created_at)");
                s.execute("CREATE TABLE IF NOT EXISTS box_state (id TEXT PRIMARY KEY REFERENCES box_config(id) "
                        + "ON DELETE CASCADE, status TEXT NOT NULL, pid INTEGER, json TEXT NOT NULL)");
                s.execute("CREATE INDEX IF NOT EXISTS box_state_status ON box_state(status)");
                s.execute("CREATE INDEX IF NOT EXISTS box_state_pid ON box_state(pid)");
                s.execute("INSERT OR REPLACE INTO schema_version (id, version, updated_at) VALUES (1, "
                        + SCHEMA_VERSION + ", " + System.currentTimeMillis() + ")");
            }
            connection.setAutoCommit(true); // commits; the connection then stays in autocommit mode
        } catch (SQLException e) {
            rollback();
            throw failure(file, "set up", e);
        }
    }

    /**
     * Adds a box.
     *
     * @throws AlreadyExistsException if its id or name is taken
     */
    public synchronized void insert(BoxConfig config, BoxStatus status) {
        try (PreparedStatement c = connection.prepareStatement(
                "INSERT INTO box_config (id, name, created_at, json) VALUES (?, ?, ?, ?)");
             PreparedStatement s = connection.prepareStatement(
                     "INSERT INTO box_state (id, status, pid, json) VALUES (?, ?, ?, ?)")) {
            connection.setAutoCommit(false);
            c.setString(1, config.id());
            c.setString(2, config.name().orElse(null));
            c.setLong(3, config.createdAt().toEpochMilli());
            c.setString(4, BoxJson.config(config));
            c.executeUpdate();
            bindStatus(s, config.id(), status);
            s.executeUpdate();
            connection.setAutoCommit(true);
        } catch (SQLException e) {
            rollback();
            if (e instanceof SQLiteException se && (se.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE
                    || se.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_PRIMARYKEY)) {
                throw new AlreadyExistsException(config.name().isPresent() && e.getMessage().contains("name")
                        ? "A box named '" + config.name().get() + "' already exists: choose another name or remove it"
                        : "A box with id " + config.id() + " already exists");
            }
            throw failure(file, "add box " + config.id() + " to", e);
        }
    }

    /** Replaces a box's status; false if the box is not there (removed meanwhile). */
    public synchronized boolean updateStatus(String id, BoxStatus status) {
        try (PreparedStatement s = connection.prepareStatement(
                "UPDATE box_state SET status = ?, pid = ?, json = ? WHERE id = ?")) {
            s.setString(1, status.state().label());
            if (status.hostPid().isPresent()) {
                s.setLong(2, status.hostPid().get());
            } else {
                s.setNull(2, java.sql.Types.INTEGER);
            }
            s.setString(3, BoxJson.statusText(status));
            s.setString(4, id);
            int n = s.executeUpdate();
            return n == 1;
        } catch (SQLException e) {
            rollback();
            throw failure(file, "update box " + id + " in", e);
        }
    }

    public synchronized boolean delete(String id) {
        try (PreparedStatement s = connection.prepareStatement("DELETE FROM box_config WHERE id = ?")) {
            s.setString(1, id);
            int n = s.executeUpdate();
            return n == 1;
        } catch (SQLException e) {
            rollback();
            throw failure(file, "remove box " + id + " from", e);
        }
    }

    public synchronized Optional<Row> find(String id) {
        List<Row> rows = query("WHERE c.id = ?", id);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.getFirst());
    }

    public synchronized Optional<Row> findByName(String name) {
        List<Row> rows = query("WHERE c.name = ?", name);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.getFirst());
    }

    /** Boxes whose id starts with {@code prefix} (case-insensitively, ids being upper case). */
    public synchronized List<Row> findByIdPrefix(String prefix) {
        String escaped = prefix.toUpperCase(java.util.Locale.ROOT).replace("\\", "\\\\").replace("%", "\\%")
                .replace("_", "\\_");
        return query("WHERE c.id LIKE ? ESCAPE '\\'", escaped + "%");
    }

    /** Every box, newest first. */
    public synchronized List<Row> list() {
        return query("", null);
    }

    private List<Row> query(String where, String arg) {
        String sql = "SELECT c.json, s.json FROM box_config c JOIN box_state s ON s.id = c.id " + where
                + " ORDER BY c.created_at DESC, c.id DESC";
        try (PreparedStatement s = connection.prepareStatement(sql)) {
            if (arg != null) {
                s.setString(1, arg);
            }
            List<Row> rows = new ArrayList<>();
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Row(BoxJson.parseConfig(rs.getString(1), "a box_config row"),
                            BoxJson.parseStatus(rs.getString(2), "a box_state row")));
                }
            }
            return rows;
        } catch (SQLException e) {
            rollback();
            throw failure(file, "read", e);
        }
    }

    private static void bindStatus(PreparedStatement s, String id, BoxStatus status) throws SQLException {
        s.setString(1, id);
        s.setString(2, status.state().label());
        if (status.hostPid().isPresent()) {
            s.setLong(3, status.hostPid().get());
        } else {
            s.setNull(3, java.sql.Types.INTEGER);
        }
        s.setString(4, BoxJson.statusText(status));
    }

    private void rollback() {
        try {
            if (!connection.getAutoCommit()) {
                connection.rollback();
                connection.setAutoCommit(true);
            }
        } catch (SQLException ignored) {
            // the original failure is what matters
        }
    }

    static BoxliteException failure(Path file, String what, SQLException e) {
        if (e instanceof SQLiteException se) {
            int primary = se.getResultCode().code & 0xFF;
            if (primary == SQLiteErrorCode.SQLITE_CORRUPT.code || primary == SQLiteErrorCode.SQLITE_NOTADB.code) {
                return new CorruptException("The box database " + file + " is damaged (" + e.getMessage() + ")", e);
            }
            if (primary == SQLiteErrorCode.SQLITE_BUSY.code || primary == SQLiteErrorCode.SQLITE_LOCKED.code) {
                return new BoxliteException(ErrorCode.DATABASE, "Cannot " + what + " the box database " + file
                        + ": another process kept it locked for longer than the busy timeout", e);
            }
            if (primary == SQLiteErrorCode.SQLITE_READONLY.code || primary == SQLiteErrorCode.SQLITE_CANTOPEN.code
                    || primary == SQLiteErrorCode.SQLITE_PERM.code) {
                return new BoxliteException(ErrorCode.DATABASE, "Cannot " + what + " the box database " + file
                        + ": it is read-only or cannot be opened; check the permissions of it and of "
                        + file.getParent(), e);
            }
            if (primary == SQLiteErrorCode.SQLITE_FULL.code) {
                return new BoxliteException(ErrorCode.RESOURCE_EXHAUSTED, "Cannot " + what + " the box database "
                        + file + ": the disk is full; free space and retry", e);
            }
        }
        return new BoxliteException(ErrorCode.DATABASE, "Cannot " + what + " the box database " + file + ": "
                + e.getMessage(), e);
    }

    @Override
    public synchronized void close() {
        try {
            connection.close();
        } catch (SQLException e) {
            throw failure(file, "close", e);
        }
    }
}
