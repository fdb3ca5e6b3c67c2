package io.boxlite.home;

import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.StorageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Scratch space for temporary work whose results are never renamed into the home, such as
 * downloads being verified or files converted on the way into a box. Anything that ends up in the
 * home is staged in the home's own {@code tmp/} instead (see {@link Staging}), because a rename
 * from here may cross filesystems.
 *
 * {@snippet :
 * ScratchSpace scratch = ScratchSpace.resolve(Options.defaults());
 * Path work = scratch.createTempDirectory("pull");
 * }
 *
 * <p>Callers delete what they create. Instances are immutable and thread-safe.
 */
public final class ScratchSpace {
    /** The environment variable naming the scratch directory. */
    public static final String TMPDIR_VARIABLE = "BOXLITE_TMPDIR";

    private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private final Path root;

    private ScratchSpace(Path root) {
        this.root = root;
    }

    /** Resolves scratch space from {@code options} and the process environment. */
    public static ScratchSpace resolve(Options options) {
        return resolve(options, System.getenv());
    }

    /**
     * Resolves scratch space: {@link Options#scratchDir()} if present, else
     * {@code BOXLITE_TMPDIR} from {@code env} (a blank value counts as unset), else
     * {@code java.io.tmpdir}. Unlike the home, scratch space is never created: it must already
     * be a directory.
     *
     * @throws InvalidArgumentException naming the option, variable or property the directory came
     *         from if it is not an absolute path, does not exist or is not a directory
     */
    public static ScratchSpace resolve(Options options, Map<String, String> env) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(env, "env");
        if (options.scratchDir().isPresent()) {
            return new ScratchSpace(existingDirectory(options.scratchDir().get().toString(),
                    "Options.scratchDir"));
        }
        String fromEnv = env.get(TMPDIR_VARIABLE);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return new ScratchSpace(existingDirectory(fromEnv, TMPDIR_VARIABLE));
        }
        return new ScratchSpace(existingDirectory(System.getProperty("java.io.tmpdir"),
                "java.io.tmpdir"));
    }

    /** The scratch directory, absolute and normalized. */
    public Path root() {
        return root;
    }

    /**
     * Creates a new directory (mode 0700) in the scratch directory, named
     * {@code boxlite-<prefix>-<random>}.
     *
     * @param prefix 1 to 64 characters from {@code [A-Za-z0-9._-]}
     * @throws InvalidArgumentException if {@code prefix} is malformed
     * @throws StorageException if the directory cannot be created
     */
    public Path createTempDirectory(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        if (!PREFIX.matcher(prefix).matches()) {
            throw new InvalidArgumentException("Invalid scratch prefix '" + prefix
                    + "': use 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'");
        }
        try {
            return Files.createTempDirectory(root, "boxlite-" + prefix + "-");
        } catch (IOException e) {
            throw new StorageException("Cannot create a scratch directory in " + root
                    + ": make it writable or set " + TMPDIR_VARIABLE + " to a writable directory",
                    e);
        }
    }

    @Override
    public String toString() {
        return "ScratchSpace[" + root + "]";
    }

    private static Path existingDirectory(String value, String source) {
        Path path;
        try {
            path = Path.of(value);
        } catch (InvalidPathException e) {
            throw new InvalidArgumentException(source + " is not a valid path ('" + value
                    + "'): set it to an existing directory", e);
        }
        if (!path.isAbsolute()) {
            throw new InvalidArgumentException(source + " must be an absolute path, got '" + value
                    + "': set it to an existing directory");
        }
        if (!Files.isDirectory(path)) {
            String problem = Files.exists(path) ? "is not a directory" : "does not exist";
            throw new InvalidArgumentException(source + " " + problem + " ('" + value
                    + "'): create it or point " + source + " at an existing directory");
        }
        return path.normalize();
    }
}
