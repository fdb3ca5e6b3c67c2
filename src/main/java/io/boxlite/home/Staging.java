package io.boxlite.home;

import io.boxlite.AlreadyExistsException;
import io.boxlite.InvalidArgumentException;
import io.boxlite.StorageException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Atomic publishing into a {@link BoxliteHome}: readers see either the old entry or the complete
 * new one, never a partial write, and a crash leaves at worst a leftover in {@code tmp/}.
 *
 * <p>The rule: stage in the home's {@code tmp/} (the same filesystem as the target, so the
 * rename is atomic; never {@code java.io.tmpdir}, which is often another filesystem), fsync the
 * staged data, rename it over the target, then fsync the target's directory so the rename
 * itself survives a power loss. Targets must therefore lie inside the home.
 *
 * {@snippet :
 * Staging staging = home.staging();
 * staging.writeAtomically(home.boxDir(id).resolve("config.json"), json);
 *
 * Path layer = staging.newStagingDir("layer");
 * extractInto(layer);                                  // fill it
 * staging.publishDirectory(layer, home.images().resolve("extracted").resolve(digest));
 * }
 *
 * <p>Every staged entry is named {@code staging-*}. {@link #sweepStale()} removes those left
 * behind by a crashed process. Instances are immutable and thread-safe; concurrent writers to one
 * target each publish a complete file and the last rename wins.
 */
public final class Staging {
    /** How old a staged entry's newest content must be before {@link #sweepStale()} removes it. */
    public static final Duration STALE_AFTER = Duration.ofHours(1);

    static final String MARKER = "staging-";
    private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final System.Logger LOG = System.getLogger(Staging.class.getName());

    private final BoxliteHome home;

    Staging(BoxliteHome home) {
        this.home = Objects.requireNonNull(home, "home");
    }

    /**
     * Replaces (or creates) {@code target} with {@code data}, atomically.
     *
     * @throws InvalidArgumentException if {@code target} is not inside the home
     * @throws StorageException if the data cannot be staged or published; {@code target} is then
     *         unchanged and nothing is left in {@code tmp/}
     */
    public void writeAtomically(Path target, byte[] data) {
        Objects.requireNonNull(data, "data");
        writeAtomically(target, staged -> Files.write(staged, data));
    }

    /**
     * Replaces (or creates) {@code target} with a file that {@code writer} fills, atomically.
     * The writer receives an empty staged file (mode 0600) in {@code tmp/} and must leave a
     * regular file at that path; it may overwrite it, e.g. with {@code Files.copy(in, path,
     * REPLACE_EXISTING)}.
     *
     * <p>If the writer throws, or anything fails before the rename, the staged file is deleted,
     * {@code target} keeps its old content and the writer's exception propagates (an
     * {@link IOException} wrapped in a {@link StorageException}). If only the final fsync of the
     * directory fails, the new content is already in place and a {@link StorageException} says
     * that it may not survive a power loss.
     *
     * @throws InvalidArgumentException if {@code target} is not inside the home, or the writer
     *         left no regular file behind
     * @throws StorageException if the data cannot be staged or published
     */
    public void writeAtomically(Path target, IOConsumer<Path> writer) {
        Objects.requireNonNull(writer, "writer");
        Path destination = checkedTarget(target);
        Path staged = null;
        try {
            staged = Files.createTempFile(home.tmp(), MARKER + "file-", ".tmp");
            writer.accept(staged);
            if (!Files.isRegularFile(staged, LinkOption.NOFOLLOW_LINKS)) {
                throw new InvalidArgumentException("The writer for " + destination
                        + " left no regular file at " + staged
                        + ": write the content to the path it is given");
            }
            force(staged);
            Files.move(staged, destination, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            var failure = new StorageException("Could not write " + destination
                    + "; its previous content, if any, is unchanged", e);
            discard(staged, failure);
            throw failure;
        } catch (RuntimeException | Error e) {
            discard(staged, e);
            throw e;
        }
        forceDirectoryOf(destination);
    }

    /**
     * Creates an empty directory (mode 0700) in {@code tmp/} to be filled and then handed to
     * {@link #publishDirectory}. If the caller gives up instead, it should delete the directory;
     * otherwise {@link #sweepStale()} removes it eventually.
     *
     * @param prefix part of the directory's name for debugging: 1 to 64 characters from
     *               {@code [A-Za-z0-9._-]}
     * @throws InvalidArgumentException if {@code prefix} is malformed
     * @throws StorageException if the directory cannot be created (e.g. the home was not
     *         {@linkplain BoxliteHome#open() opened})
     */
    public Path newStagingDir(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        if (!PREFIX.matcher(prefix).matches()) {
            throw new InvalidArgumentException("Invalid staging prefix '" + prefix
                    + "': use 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'");
        }
        try {
            return Files.createTempDirectory(home.tmp(), MARKER + prefix + "-");
        } catch (IOException e) {
            throw new StorageException("Cannot create a staging directory in " + home.tmp()
                    + ": open the home first and check that it is writable", e);
        }
    }

    /**
     * Moves a directory made by {@link #newStagingDir} to {@code target}, after fsyncing every
     * file and directory in it. Unlike {@link #writeAtomically}, this never replaces an existing
     * target: content-addressed entries such as extracted layers are published once, and a
     * caller that finds one already there decides whether that is fine.
     *
     * <p>The existence check and the rename are two steps, so an <em>empty</em> directory that
     * appears at {@code target} between them is replaced (the rename system call allows that);
     * a non-empty one, or a file, makes the publish fail as described.
     *
     * @throws AlreadyExistsException if {@code target} exists; the staged directory is deleted
     * @throws InvalidArgumentException if {@code stagedDir} was not made by
     *         {@link #newStagingDir} of this home, or {@code target} is not inside the home
     * @throws StorageException if the publish fails; the staged directory is deleted and
     *         {@code target} is unchanged
     */
    public void publishDirectory(Path stagedDir, Path target) {
        Path source = checkedStagingDir(stagedDir);
        Path destination = checkedTarget(target);
        try {
            if (Files.exists(destination, LinkOption.NOFOLLOW_LINKS)) {
                throw new AlreadyExistsException(destination + " already exists; the staged copy "
                        + "was discarded");
            }
            forceTree(source);
            Files.move(source, destination, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            var failure = Files.exists(destination, LinkOption.NOFOLLOW_LINKS)
                    ? new AlreadyExistsException(destination + " already exists; the staged copy "
                            + "was discarded", e)
                    : new StorageException("Could not publish " + source + " as " + destination
                            + "; the staged copy was discarded", e);
            discard(source, failure);
            throw failure;
        } catch (RuntimeException | Error e) {
            discard(source, e);
            throw e;
        }
        forceDirectoryOf(destination);
    }

    /**
     * Removes staged entries in {@code tmp/} whose newest content is older than
     * {@link #STALE_AFTER}; see {@link #sweepStale(Duration)}.
     */
    public int sweepStale() {
        return sweepStale(STALE_AFTER);
    }

    /**
     * Removes staged entries ({@code tmp/staging-*}) left behind by a process that crashed or was
     * killed mid-publish. An entry counts as stale when nothing in it was modified within
     * {@code age}; the newest modification time in the whole entry is used, so a slow writer
     * that keeps writing into a staged directory is not swept from under itself. Other entries in
     * {@code tmp/} are left alone. Best effort: an entry that cannot be removed is logged and
     * skipped. Meant to be called when a runtime opens the home.
     *
     * @return how many entries were removed
     */
    public int sweepStale(Duration age) {
        Objects.requireNonNull(age, "age");
        Instant cutoff = Instant.now().minus(age);
        if (!Files.isDirectory(home.tmp())) {
            return 0;
        }
        int removed = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(home.tmp(), MARKER + "*")) {
            for (Path entry : entries) {
                try {
                    if (newestModification(entry).toInstant().isBefore(cutoff)) {
                        deleteTree(entry);
                        removed++;
                        LOG.log(Level.DEBUG, "Removed stale staging entry {0}", entry);
                    }
                } catch (NoSuchFileException e) {
                    // why: another process swept or published it meanwhile
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "Could not remove stale staging entry " + entry, e);
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Could not list staging directory " + home.tmp(), e);
        }
        return removed;
    }

    private Path checkedTarget(Path target) {
        Objects.requireNonNull(target, "target");
        Path destination = target.toAbsolutePath().normalize();
        if (!destination.startsWith(home.root()) || destination.equals(home.root())) {
            throw new InvalidArgumentException("Cannot publish " + target + " atomically: it is "
                    + "not inside the BoxLite home " + home.root()
                    + ", so a rename from its tmp/ would not be atomic");
        }
        return destination;
    }

    private Path checkedStagingDir(Path stagedDir) {
        Objects.requireNonNull(stagedDir, "stagedDir");
        Path source = stagedDir.toAbsolutePath().normalize();
        Path name = source.getFileName();
        if (!home.tmp().equals(source.getParent()) || !name.toString().startsWith(MARKER)
                || !Files.isDirectory(source, LinkOption.NOFOLLOW_LINKS)) {
            throw new InvalidArgumentException(stagedDir + " is not a staging directory of "
                    + home.root() + ": create it with newStagingDir()");
        }
        return source;
    }

    private static void force(Path file) throws IOException {
        try (var channel = FileChannel.open(file, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private static void forceDirectoryOf(Path published) {
        Path dir = published.getParent();
        try {
            force(dir);
        } catch (IOException e) {
            throw new StorageException("Published " + published + " but could not flush directory "
                    + dir + ": the change may not survive a power loss", e);
        }
    }

    private static void forceTree(Path root) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                    throws IOException {
                if (attrs.isRegularFile()) {
                    force(file);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException failure)
                    throws IOException {
                if (failure != null) {
                    throw failure;
                }
                force(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static FileTime newestModification(Path root) throws IOException {
        var newest = new FileTime[] {Files.getLastModifiedTime(root, LinkOption.NOFOLLOW_LINKS)};
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                keep(attrs.lastModifiedTime());
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                keep(attrs.lastModifiedTime());
                return FileVisitResult.CONTINUE;
            }

            private void keep(FileTime time) {
                if (time.compareTo(newest[0]) > 0) {
                    newest[0] = time;
                }
            }
        });
        return newest[0];
    }

    private static void discard(Path staged, Throwable primary) {
        if (staged == null) {
            return;
        }
        try {
            deleteTree(staged);
        } catch (IOException e) {
            primary.addSuppressed(e);
        }
    }

    /**
     * Deletes a file or directory tree without following symbolic links (a link is removed,
     * never its target); a missing {@code root} is fine.
     */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                    throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException failure)
                    throws IOException {
                if (failure != null) {
                    throw failure;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
