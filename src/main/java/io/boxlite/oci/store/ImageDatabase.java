package io.boxlite.oci.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code db/images.db}: the index of tagged images and of pins. SQLite in WAL mode with a busy
 * timeout, so several processes on one home can use it. Thread-safe (one connection, methods
 * synchronized). The schema is versioned in {@code schema_version}; see docs/images.md.
 */
final class ImageDatabase implements AutoCloseable {
    /** The schema this code writes. */
    static final int SCHEMA_VERSION = 1;
    private static final int BUSY_TIMEOUT_MS = 30_000;

    private final Path file;
    private final Connection connection;

    private ImageDatabase(Path file, Connection connection) {
        this.file = file;
        this.connection = connection;
    }

    static ImageDatabase open(Path file) {
        Connection connection;
        try {
            connection = DriverManager.getConnection("jdbc:sqlite:" + file);
        } catch (SQLException e) {
            throw failure("Cannot open the image database " + file, e);
        }
        var db = new ImageDatabase(file, connection);
        try {
            db.migrate();
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        return db;
    }

    private void migrate() {
        try (Statement s = connection.createStatement()) {
            s.execute("PRAGMA busy_timeout=" + BUSY_TIMEOUT_MS);
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA synchronous=FULL");
            s.execute("PRAGMA foreign_keys=ON");
            connection.setAutoCommit(false);
            // why: BEGIN IMMEDIATE would be nicer, but the JDBC driver starts deferred
            // transactions; two processes creating the schema at once are serialised by
            // IF NOT EXISTS and the version row's primary key.
            s.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                    + "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, "
                    + "updated_at INTEGER NOT NULL)");
            int version = 0;
            try (ResultSet rs = s.executeQuery("SELECT version FROM schema_version WHERE id = 1")) {
                if (rs.next()) {
                    version = rs.getInt(1);
                }
            }
            if (version > SCHEMA_VERSION) {
                connection.rollback();
                throw new BoxliteException(ErrorCode.DATABASE, "The image database " + file
                        + " has schema version " + version + ", newer than this BoxLite ("
                        + SCHEMA_VERSION + "): upgrade BoxLite, or use another BOXLITE_HOME");
            }
            if (version < 1) {
                s.execute("CREATE TABLE IF NOT EXISTS images ("
                        + "reference TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, "
                        + "media_type TEXT NOT NULL, config_digest TEXT NOT NULL, "
                        + "index_digest TEXT, layers TEXT NOT NULL, size INTEGER NOT NULL, "
                        + "pulled_at INTEGER NOT NULL)");
                s.execute("CREATE INDEX IF NOT EXISTS images_manifest ON images(manifest_digest)");
                s.execute("CREATE TABLE IF NOT EXISTS pins ("
                        + "manifest_digest TEXT NOT NULL, holder TEXT NOT NULL, "
                        + "created_at INTEGER NOT NULL, PRIMARY KEY (manifest_digest, holder))");
                s.execute("INSERT OR REPLACE INTO schema_version (id, version, updated_at) "
                        + "VALUES (1, " + SCHEMA_VERSION + ", " + Instant.now().toEpochMilli() + ")");
            }
            connection.commit();
            connection.setAutoCommit(true);
        } catch (SQLException e) {
            throw failure("Cannot set up the image database " + file, e);
        }
    }

    synchronized void upsert(ImageRecord record) {
        String sql = "INSERT OR REPLACE INTO images (reference, manifest_digest, media_type, "
                + "config_digest, index_digest, layers, size, pulled_at) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setString(1, record.reference());
            ps.setString(2, record.manifestDigest().toString());
            ps.setString(3, record.mediaType());
            ps.setString(4, record.configDigest().toString());
            ps.setString(5, record.indexDigest().map(Digest::toString).orElse(null));
            ps.setString(6, layersJson(record.layers()));
            ps.setLong(7, record.size());
            ps.setLong(8, record.pulledAt().toEpochMilli());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw failure("Cannot record image " + record.reference(), e);
        }
    }

    synchronized boolean delete(String reference) {
        try (PreparedStatement ps = connection.prepareStatement(
                "DELETE FROM images WHERE reference = ?")) {
            ps.setString(1, reference);
            return ps.executeUpdate() > 0;
        } catch (SQLException e) {
            throw failure("Cannot remove image " + reference, e);
        }
    }

    synchronized Optional<ImageRecord> find(String reference) {
        List<ImageRecord> rows = query("SELECT * FROM images WHERE reference = ?", reference);
        return rows.stream().findFirst();
    }

    synchronized List<ImageRecord> list() {
        return query("SELECT * FROM images ORDER BY reference");
    }

    synchronized List<ImageRecord> byManifest(Digest manifest) {
        return query("SELECT * FROM images WHERE manifest_digest = ? ORDER BY reference",
                manifest.toString());
    }

    synchronized void pin(Digest manifest, String holder) {
        try (PreparedStatement ps = connection.prepareStatement(
                "INSERT OR IGNORE INTO pins (manifest_digest, holder, created_at) VALUES (?, ?, ?)")) {
            ps.setString(1, manifest.toString());
            ps.setString(2, holder);
            ps.setLong(3, Instant.now().toEpochMilli());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw failure("Cannot pin " + manifest + " for " + holder, e);
        }
    }

    synchronized boolean unpin(Digest manifest, String holder) {
        try (PreparedStatement ps = connection.prepareStatement(
                "DELETE FROM pins WHERE manifest_digest = ? AND holder = ?")) {
            ps.setString(1, manifest.toString());
            ps.setString(2, holder);
            return ps.executeUpdate() > 0;
        } catch (SQLException e) {
            throw failure("Cannot unpin " + manifest + " for " + holder, e);
        }
    }

    /** Pinned manifests and their holders. */
    synchronized Map<Digest, Set<String>> pins() {
        var pins = new HashMap<Digest, Set<String>>();
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT manifest_digest, holder FROM pins")) {
            while (rs.next()) {
                pins.computeIfAbsent(Digest.parse(rs.getString(1)), d -> new TreeSet<>())
                        .add(rs.getString(2));
            }
        } catch (SQLException e) {
            throw failure("Cannot read pins", e);
        }
        return pins;
    }

    private List<ImageRecord> query(String sql, String... args) {
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setString(i + 1, args[i]);
            }
            var rows = new ArrayList<ImageRecord>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new ImageRecord(rs.getString("reference"),
                            Digest.parse(rs.getString("manifest_digest")),
                            rs.getString("media_type"),
                            Digest.parse(rs.getString("config_digest")),
                            Optional.ofNullable(rs.getString("index_digest")).map(Digest::parse),
                            parseLayers(rs.getString("layers")), rs.getLong("size"),
                            Instant.ofEpochMilli(rs.getLong("pulled_at"))));
                }
            }
            return rows;
        } catch (SQLException e) {
            throw failure("Cannot read the image database " + file, e);
        }
    }

    private static String layersJson(List<Descriptor> layers) {
        ArrayNode array = Json.MAPPER.createArrayNode();
        layers.forEach(layer -> array.add(layer.toJson()));
        return new String(Json.bytes(array), StandardCharsets.UTF_8);
    }

    private static List<Descriptor> parseLayers(String json) {
        var layers = new ArrayList<Descriptor>();
        try {
            for (JsonNode node : Json.MAPPER.readTree(json)) {
                layers.add(Descriptor.parse(node, "layers column"));
            }
        } catch (java.io.IOException e) {
            throw new BoxliteException(ErrorCode.DATABASE, "Corrupt layers column in the image "
                    + "database", e);
        }
        return layers;
    }

    private static BoxliteException failure(String what, SQLException e) {
        return new BoxliteException(ErrorCode.DATABASE, what + ": " + e.getMessage(), e);
    }

    @Override
    public synchronized void close() {
        try {
            connection.close();
        } catch (SQLException e) {
            throw failure("Cannot close the image database " + file, e);
        }
    }
}
