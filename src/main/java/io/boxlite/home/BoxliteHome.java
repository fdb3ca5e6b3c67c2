package io.boxlite.home;

import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.StorageException;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The BoxLite home directory and the paths of its layout.
 *
 * <pre>
 * ~/.boxlite/      BOXLITE_HOME, or Options.home
 *   images/        OCI image layout
 *   boxes/{id}/    one directory per box
 *   init/          shared guest root filesystem
 *   logs/
 *   db/            SQLite databases
 *   tmp/           staging area for atomic publishes (see {@link Staging})
 *   lock           lock file of the runtime that owns this home
 * </pre>
 *
 * <p>{@link #resolve(Options, Map)} only computes where the home is; {@link #open()} creates the
 * layout. Directories that {@code open()} creates get mode 0700, because boxes' disks and
 * configuration may hold secrets; directories that already exist keep their mode. The accessors
 * only compute paths and never touch the disk, so they are cheap and may be called on a home that
 * was not opened.
 *
 * {@snippet :
 * BoxliteHome home = BoxliteHome.resolve(Options.defaults()).open();
 * Path config = home.boxDir("web-1").resolve("config.json");
 * }
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class BoxliteHome {
    /** The environment variable naming the home directory. */
    public static final String HOME_VARIABLE = "BOXLITE_HOME";

    static final Set<PosixFilePermission> OWNER_ONLY_DIRECTORY =
            PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ONLY_FILE =
            PosixFilePermissions.fromString("rw-------");
    private static final Pattern BOX_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private final Path root;

    private BoxliteHome(Path root) {
        this.root = root;
    }

    /**
     * Resolves the home from {@code options} and the process environment; see
     * {@link #resolve(Options, Map)}.
     */
    public static BoxliteHome resolve(Options options) {
        return resolve(options, System.getenv());
    }

    /**
     * Resolves the home: {@link Options#home()} if present, else {@code BOXLITE_HOME} from
     * {@code env} (a blank value counts as unset), else {@code .boxlite} in the user's home
     * directory ({@code user.home}). Touches no files.
     *
     * @throws InvalidArgumentException if {@code BOXLITE_HOME} is not an absolute path (a
     *         relative one would depend on the working directory of each process), or if it is
     *         unset and {@code user.home} is not an absolute path
     */
    public static BoxliteHome resolve(Options options, Map<String, String> env) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(env, "env");
        if (options.home().isPresent()) {
            return new BoxliteHome(options.home().get().normalize());
        }
        String fromEnv = env.get(HOME_VARIABLE);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return new BoxliteHome(absolutePath(fromEnv, HOME_VARIABLE).normalize());
        }
        Path userHome = absolutePath(System.getProperty("user.home"), "user.home");
        return new BoxliteHome(userHome.resolve(".boxlite"));
    }

    /**
     * Creates whatever is missing of the layout and checks that the home is usable. Idempotent,
     * and safe when several processes open the same home at once.
     *
     * @return this home, for chaining
     * @throws StorageException if the home or an entry of its layout exists but has the wrong
     *         type, if the home is not writable, or if a directory cannot be created
     */
    public BoxliteHome open() {
        ensureRoot();
        for (Path dir : List.of(images(), boxes(), init(), logs(), db(), tmp())) {
            ensureDirectory(dir);
        }
        ensureLockFile();
        return this;
    }

    /** The home directory itself, absolute and normalized. */
    public Path root() {
        return root;
    }

    /** {@code images/}: the OCI image layout ({@code blobs/sha256/}, {@code index.json}). */
    public Path images() {
        return root.resolve("images");
    }

    /** {@code boxes/}: one directory per box. */
    public Path boxes() {
        return root.resolve("boxes");
    }

    /**
     * {@code boxes/{id}/}, the directory of one box. Does not create it.
     *
     * @throws InvalidArgumentException unless {@code id} is 1 to 64 characters from
     *         {@code [A-Za-z0-9_-]}, which also keeps it from escaping {@code boxes/}
     */
    public Path boxDir(String id) {
        Objects.requireNonNull(id, "id");
        if (!BOX_ID.matcher(id).matches()) {
            throw new InvalidArgumentException("Invalid box id '" + id
                    + "': use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'");
        }
        return boxes().resolve(id);
    }

    /** {@code init/}: the shared guest root filesystem. */
    public Path init() {
        return root.resolve("init");
    }

    /** {@code logs/}: runtime logs. */
    public Path logs() {
        return root.resolve("logs");
    }

    /** {@code db/}: the SQLite databases. */
    public Path db() {
        return root.resolve("db");
    }

    /**
     * {@code tmp/}: staging for {@link Staging}. It is inside the home so that staged entries are
     * on the same filesystem as their targets and can be renamed into place atomically.
     */
    public Path tmp() {
        return root.resolve("tmp");
    }

    /** {@code lock}: the lock file of the runtime that owns this home. */
    public Path lockFile() {
        return root.resolve("lock");
    }

    /** Atomic writes and publishes into this home, staged in {@link #tmp()}. */
    public Staging staging() {
        return new Staging(this);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof BoxliteHome home && home.root.equals(root);
    }

    @Override
    public int hashCode() {
        return root.hashCode();
    }

    @Override
    public String toString() {
        return "BoxliteHome[" + root + "]";
    }

    private static Path absolutePath(String value, String source) {
        Path path;
        try {
            path = Path.of(value);
        } catch (InvalidPathException e) {
            throw new InvalidArgumentException(source + " is not a valid path ('" + value
                    + "'): set " + HOME_VARIABLE + " to an absolute directory", e);
        }
        if (!path.isAbsolute()) {
            throw new InvalidArgumentException(source + " must be an absolute path, got '" + value
                    + "': set " + HOME_VARIABLE
                    + " to an absolute directory such as /var/lib/boxlite");
        }
        return path;
    }

    private void ensureRoot() {
        if (Files.exists(root) && !Files.isDirectory(root)) {
            throw new StorageException("BoxLite home " + root + " exists but is not a directory: "
                    + "move it away or set " + HOME_VARIABLE + " to a directory");
        }
        if (!Files.exists(root)) {
            try {
                Path parent = root.getParent();
                if (parent != null) {
                    Files.createDirectories(parent,
                            PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIRECTORY));
                }
            } catch (IOException e) {
                throw new StorageException("Cannot create the parent directories of BoxLite home "
                        + root + ": create them yourself or set " + HOME_VARIABLE
                        + " to a writable directory", e);
            }
            ensureDirectory(root);
        }
        if (!Files.isWritable(root) || !Files.isExecutable(root)) {
            throw new StorageException("BoxLite home " + root + " is not writable by this user: "
                    + "fix its permissions (chmod u+rwx) or set " + HOME_VARIABLE
                    + " to a writable directory");
        }
    }

    private static void ensureDirectory(Path dir) {
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIRECTORY));
            // why: the umask may have cleared bits of the requested mode
            Files.setPosixFilePermissions(dir, OWNER_ONLY_DIRECTORY);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(dir)) {
                throw new StorageException(dir + " exists but is not a directory: move it away so "
                        + "BoxLite can create its directory there", e);
            }
        } catch (IOException e) {
            throw new StorageException("Cannot create directory " + dir
                    + ": check the permissions of " + dir.getParent(), e);
        }
    }

    private void ensureLockFile() {
        Path lock = lockFile();
        try {
            Files.createFile(lock, PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
        } catch (FileAlreadyExistsException e) {
            if (!Files.isRegularFile(lock)) {
                throw new StorageException(lock + " exists but is not a regular file: move it away "
                        + "so BoxLite can create its lock file there", e);
            }
        } catch (IOException e) {
            throw new StorageException("Cannot create lock file " + lock
                    + ": check the permissions of " + root, e);
        }
    }
}
