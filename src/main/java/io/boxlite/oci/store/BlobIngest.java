package io.boxlite.oci.store;

import io.boxlite.StorageException;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.RetryPolicy;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Objects;

/**
 * Brings one blob into the store: downloads (or copies) it into a partial file in
 * {@code tmp/ingest/}, checks its size and sha256, and only then publishes it into
 * {@code images/blobs/sha256/}. Concurrent ingests of one blob, by threads or processes sharing
 * the home, fetch it once: the others wait on the blob's lock and find it present.
 *
 * <p>A partial file survives a failed or killed download and the next attempt resumes it from
 * where it stopped (the source is asked for the rest, e.g. with an HTTP Range request); the
 * digest is still computed over the whole blob. Bytes that do not match the digest are deleted
 * and never enter the store.
 */
public final class BlobIngest {
    private static final System.Logger LOG = System.getLogger(BlobIngest.class.getName());
    private static final int BUFFER = 128 * 1024;

    /** Where the blob's bytes come from. */
    @FunctionalInterface
    public interface Source {
        /**
         * Opens the blob from {@code offset}; a source that cannot seek returns a body from 0.
         *
         * @throws IOException for a transient failure, which is retried
         * @throws ImageException for a permanent one (not found, access denied)
         */
        Opened open(long offset) throws IOException;
    }

    /**
     * An opened source.
     *
     * @param body   the bytes
     * @param offset where in the blob {@code body} starts: the requested offset, or 0
     */
    public record Opened(InputStream body, long offset) {
    }

    /** Progress of one blob: bytes done of its total. */
    @FunctionalInterface
    public interface Progress {
        Progress NONE = (done, total) -> { };

        void update(long done, long total);
    }

    /** What {@link #fetch} did. */
    public enum Outcome { DOWNLOADED, ALREADY_PRESENT }

    private final ImageStore store;
    private final Path ingestDir;
    private final Path lockFile;
    private final Duration lockTimeout;

    BlobIngest(ImageStore store, Path ingestDir, Duration lockTimeout) {
        this.store = store;
        this.ingestDir = ingestDir;
        this.lockFile = ingestDir.resolve("locks");
        this.lockTimeout = lockTimeout;
    }

    /** The partial file of {@code digest} (for tests and diagnostics). */
    public Path partialFile(Digest digest) {
        return ingestDir.resolve("sha256-" + digest.hex() + ".partial");
    }

    /**
     * Ensures {@code blob} is in the store, fetching it from {@code source} if it is not.
     *
     * @param what    names the source in errors, e.g. the registry URL
     * @throws ImageException if the bytes do not match the descriptor (nothing is stored), or
     *         the source keeps failing after the retries (the partial file is kept for a resume)
     * @throws StorageException if the store cannot be written, or the lock wait times out
     */
    public Outcome fetch(Descriptor blob, Source source, Progress progress, RetryPolicy retry,
                         String what) {
        Objects.requireNonNull(blob, "blob");
        Digest digest = blob.digest();
        if (store.hasBlob(digest)) {
            progress.update(blob.size(), blob.size());
            return Outcome.ALREADY_PRESENT;
        }
        try (var held = FileLocks.acquire(lockFile, slot(digest), lockTimeout,
                "the download of " + digest)) {
            if (store.hasBlob(digest)) {
                // why: another thread or process fetched it while we waited
                progress.update(blob.size(), blob.size());
                return Outcome.ALREADY_PRESENT;
            }
            Path partial = partialFile(digest);
            boolean restarted = false;
            for (int attempt = 1; ; attempt++) {
                long before = size(partial);
                Digest streamed;
                try {
                    streamed = transfer(blob, source, partial, progress, what);
                } catch (IOException e) {
                    if (attempt >= retry.maxAttempts()) {
                        throw new ImageException("Downloading " + digest + " from " + what
                                + " failed after " + attempt + " attempts (" + e.getMessage()
                                + "); the " + size(partial) + " bytes received are kept and the "
                                + "next pull resumes from there", e);
                    }
                    LOG.log(Level.DEBUG, "Blob {0}: attempt {1} failed ({2}), retrying",
                            digest, attempt, e.toString());
                    retry.pause(attempt, null);
                    continue;
                }
                long have = size(partial);
                if (have < blob.size()) {
                    // why: the body ended early without an error (e.g. a chunked response)
                    if (attempt >= retry.maxAttempts()) {
                        throw new ImageException("Downloading " + digest + " from " + what
                                + " kept ending early (" + have + " of " + blob.size()
                                + " bytes); the partial download is kept for a resume");
                    }
                    retry.pause(attempt, null);
                    continue;
                }
                Digest actual = streamed != null ? streamed : hash(partial);
                if (!actual.equals(digest)) {
                    delete(partial);
                    if (before > 0 && !restarted) {
                        // why: the bytes kept from an earlier attempt may be the bad ones
                        restarted = true;
                        LOG.log(Level.DEBUG, "Blob {0}: resumed download did not verify, "
                                + "starting over", digest);
                        continue;
                    }
                    throw new ImageException("Blob " + digest + " from " + what
                            + " is corrupt: its content hashes to " + actual
                            + "; nothing was stored. Retry the pull; if it fails again the "
                            + "source serves bad data");
                }
                publish(digest, partial);
                return Outcome.DOWNLOADED;
            }
        }
    }

    /**
     * Stores {@code data} as a blob after checking it hashes to {@code expected}; a no-op if
     * the blob is already there.
     *
     * @throws ImageException if it does not
     */
    public void putBytes(Digest expected, byte[] data, String what) {
        Digest actual = Digest.of(data);
        if (!actual.equals(expected)) {
            throw new ImageException(what + " hashes to " + actual + ", not " + expected
                    + "; nothing was stored");
        }
        if (!store.hasBlob(expected)) {
            store.home().staging().writeAtomically(store.blobPath(expected), data);
        }
    }

    /**
     * Appends the rest of the blob to {@code partial}, hashing as it goes (after hashing the bytes
     * already there, so the digest always covers the whole blob).
     *
     * @return the digest of the whole partial file if the body was read to its end, else null
     */
    private Digest transfer(Descriptor blob, Source source, Path partial, Progress progress,
                            String what) throws IOException {
        long have = size(partial);
        if (have > blob.size()) {
            delete(partial);
            have = 0;
        }
        if (have == blob.size() && have > 0) {
            return null;
        }
        Opened opened = source.open(have);
        try (InputStream body = opened.body()) {
            long start = opened.offset();
            if (start != have && start != 0) {
                throw new ImageException(what + " answered a request from byte " + have
                        + " with data from byte " + start);
            }
            long done = start;
            MessageDigest md = start == 0 ? Digest.newSha256() : seed(partial, start);
            try (OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE,
                    start == 0 ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND)) {
                progress.update(done, blob.size());
                byte[] buffer = new byte[BUFFER];
                int n;
                while ((n = body.read(buffer)) >= 0) {
                    if (done + n > blob.size()) {
                        out.close();
                        delete(partial);
                        throw new ImageException("Blob " + blob.digest() + " from " + what
                                + " is larger than the " + blob.size()
                                + " bytes its descriptor says; nothing was stored");
                    }
                    out.write(buffer, 0, n);
                    md.update(buffer, 0, n);
                    done += n;
                    progress.update(done, blob.size());
                }
            }
            return Digest.of(md);
        }
    }

    private static MessageDigest seed(Path partial, long length) throws IOException {
        MessageDigest md = Digest.newSha256();
        try (InputStream in = Files.newInputStream(partial)) {
            byte[] buffer = new byte[BUFFER];
            long left = length;
            while (left > 0) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                if (n < 0) {
                    throw new IOException("Partial file " + partial + " shrank while resuming");
                }
                md.update(buffer, 0, n);
                left -= n;
            }
        }
        return md;
    }

    private void publish(Digest digest, Path partial) {
        store.home().staging().writeAtomically(store.blobPath(digest),
                staged -> Files.move(partial, staged, StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.ATOMIC_MOVE));
    }

    /** The sha256 of a file's content. */
    static Digest hash(Path file) {
        MessageDigest md = Digest.newSha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[BUFFER];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                md.update(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new StorageException("Cannot read " + file + " to verify it", e);
        }
        return Digest.of(md);
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new StorageException("Cannot read the size of " + file, e);
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new StorageException("Cannot delete " + file, e);
        }
    }

    /** The lock slot of a blob: 2^20 slots, so unrelated blobs rarely share one. */
    static long slot(Digest digest) {
        return Long.parseLong(digest.hex().substring(0, 5), 16);
    }

    /** Whether no one is ingesting {@code digest} right now (for garbage collection). */
    boolean idle(Digest digest) {
        var held = FileLocks.tryAcquire(lockFile, slot(digest));
        held.ifPresent(FileLocks.Held::close);
        return held.isPresent();
    }
}
