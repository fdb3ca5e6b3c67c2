package io.boxlite.home;

import com.sun.security.auth.module.UnixSystem;
import io.boxlite.InvalidArgumentException;
import io.boxlite.StorageException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Short paths for Unix domain sockets that live in deep directories.
 *
 * <p>A Unix socket address holds at most 108 bytes including the terminating NUL, so a socket
 * path may be at most {@value #MAX_SOCKET_PATH_BYTES} bytes; a box directory in a deep home
 * easily exceeds that. Sockets therefore stay in their long directory but are bound and reached
 * through a symbolic link in a short per-user runtime directory: the kernel follows the link
 * while resolving the path, and only the short spelling has to fit in the address.
 *
 * <p>The runtime directory is {@code $XDG_RUNTIME_DIR/boxlite} when {@code XDG_RUNTIME_DIR} is
 * set to an existing absolute directory short enough to leave room for socket names, else
 * {@code /tmp/boxlite-<uid>} ({@code /tmp} rather than {@code java.io.tmpdir}, which may be long).
 * It is created with mode 0700, and on every use it must be a real directory (not a symbolic
 * link) owned by this user with mode exactly 0700; otherwise it is refused, because whoever
 * controls it could point the links at their own sockets and intercept the traffic. In it, each
 * long directory gets one link named by the first 12 hex digits of the SHA-256 of its absolute
 * path (48 bits, so different directories practically never share a link).
 *
 * {@snippet :
 * SocketPaths sockets = SocketPaths.resolve();
 * Path ready = sockets.socketPath(home.boxDir(id), "ready.sock");
 * try (var server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
 *     server.bind(UnixDomainSocketAddress.of(ready));    // the socket file lands in boxDir(id)
 * }
 * sockets.release(home.boxDir(id));                      // when the box is gone
 * }
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class SocketPaths {
    /** The longest socket path, in bytes: {@code sun_path} is 108 bytes including the NUL. */
    public static final int MAX_SOCKET_PATH_BYTES = 107;

    static final String RUNTIME_DIR_VARIABLE = "XDG_RUNTIME_DIR";
    static final int LINK_NAME_LENGTH = 12;
    /** Room that must remain for a socket's file name after {@code <runtime dir>/<link>/}. */
    static final int MIN_SOCKET_NAME_ROOM = 32;
    static final int MAX_RUNTIME_DIR_BYTES =
            MAX_SOCKET_PATH_BYTES - 1 - LINK_NAME_LENGTH - 1 - MIN_SOCKET_NAME_ROOM;

    private static final int DIRECTORY_TYPE_BITS = 0040000;
    private static final int PERMISSION_BITS = 07777;
    private static final int OWNER_ONLY = 0700;
    private static final System.Logger LOG = System.getLogger(SocketPaths.class.getName());

    private final Path runtimeDir;
    private final long uid;

    private SocketPaths(Path runtimeDir, long uid) {
        this.runtimeDir = runtimeDir;
        this.uid = uid;
    }

    /** Chooses the runtime directory from the process environment; see {@link #resolve(Map)}. */
    public static SocketPaths resolve() {
        return resolve(System.getenv());
    }

    /**
     * Chooses the runtime directory as the class documentation describes, reading
     * {@code XDG_RUNTIME_DIR} from {@code env}. Creates nothing: the directory is created and
     * verified when a link is first made.
     */
    public static SocketPaths resolve(Map<String, String> env) {
        Objects.requireNonNull(env, "env");
        long uid = new UnixSystem().getUid();
        return new SocketPaths(chooseRuntimeDir(env.get(RUNTIME_DIR_VARIABLE), uid), uid);
    }

    /** The per-user runtime directory that holds the links. */
    public Path runtimeDir() {
        return runtimeDir;
    }

    /**
     * Creates or refreshes the link for {@code longDir} and returns it. The link is replaced
     * atomically (made under a temporary name, then renamed over the old one), so a concurrent
     * user never sees it missing. {@code longDir} need not exist yet.
     *
     * @throws StorageException if the runtime directory is unsafe (see the class documentation)
     *         or the link cannot be made
     */
    public Path shortDir(Path longDir) {
        Path target = absolute(longDir);
        Path link = linkFor(target);
        ensureRuntimeDir();
        try {
            if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).equals(target)) {
                return link;
            }
            Path temporary = runtimeDir.resolve("." + link.getFileName() + "."
                    + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            Files.createSymbolicLink(temporary, target);
            try {
                Files.move(temporary, link, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                Files.deleteIfExists(temporary);
                throw e;
            }
        } catch (IOException e) {
            throw new StorageException("Cannot create socket link " + link + " -> " + target
                    + ": check that " + runtimeDir + " is writable", e);
        }
        return link;
    }

    /**
     * The path to bind or connect a socket called {@code name} in {@code longDir}: the short
     * link from {@link #shortDir} plus {@code name}, at most {@value #MAX_SOCKET_PATH_BYTES}
     * bytes. The socket file itself is created in {@code longDir}.
     *
     * @param name the socket's file name, a single path element such as {@code ready.sock}
     * @throws InvalidArgumentException if {@code name} is not a single path element, or is so
     *         long that even the short path exceeds the limit
     * @throws StorageException as {@link #shortDir} does
     */
    public Path socketPath(Path longDir, String name) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0
                || name.indexOf('\0') >= 0) {
            throw new InvalidArgumentException("Invalid socket name '" + name
                    + "': use a plain file name such as ready.sock");
        }
        Path path = linkFor(absolute(longDir)).resolve(name);
        int bytes = byteLength(path);
        if (bytes > MAX_SOCKET_PATH_BYTES) {
            throw new InvalidArgumentException("Socket path " + path + " is " + bytes
                    + " bytes, over the " + MAX_SOCKET_PATH_BYTES
                    + "-byte limit of a Unix socket address: use a shorter socket name");
        }
        shortDir(longDir);
        return path;
    }

    /**
     * Removes the link for {@code longDir}, if it still points there; a link that points
     * elsewhere belongs to another directory and is left alone. Does nothing if the runtime
     * directory does not exist.
     *
     * @throws StorageException if the runtime directory is unsafe or the link cannot be removed
     */
    public void release(Path longDir) {
        Path target = absolute(longDir);
        Path link = linkFor(target);
        if (!Files.exists(runtimeDir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        verifyRuntimeDir();
        try {
            if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).equals(target)) {
                Files.deleteIfExists(link);
            }
        } catch (NoSuchFileException e) {
            // why: released concurrently; the outcome is the same
        } catch (IOException e) {
            throw new StorageException("Cannot remove socket link " + link, e);
        }
    }

    @Override
    public String toString() {
        return "SocketPaths[" + runtimeDir + "]";
    }

    static Path chooseRuntimeDir(String xdgRuntimeDir, long uid) {
        if (xdgRuntimeDir != null && !xdgRuntimeDir.isBlank()) {
            try {
                Path base = Path.of(xdgRuntimeDir);
                Path candidate = base.resolve("boxlite");
                if (base.isAbsolute() && Files.isDirectory(base)
                        && byteLength(candidate) <= MAX_RUNTIME_DIR_BYTES) {
                    return candidate;
                }
            } catch (InvalidPathException e) {
                // why: an unusable XDG_RUNTIME_DIR is ignored like an absent one
            }
            LOG.log(Level.DEBUG, "Not using XDG_RUNTIME_DIR={0} for sockets: it is not an "
                    + "existing absolute directory of at most {1} bytes", xdgRuntimeDir,
                    MAX_RUNTIME_DIR_BYTES - "/boxlite".length());
        }
        return Path.of("/tmp", "boxlite-" + uid);
    }

    static String linkName(Path absoluteDir) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(absoluteDir.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, LINK_NAME_LENGTH / 2);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK provides SHA-256", e);
        }
    }

    /**
     * The length of {@code path} in bytes as a socket address holds it. UTF-8 is exact for the
     * usual UTF-8 locales and an upper bound otherwise.
     */
    static int byteLength(Path path) {
        return path.toString().getBytes(StandardCharsets.UTF_8).length;
    }

    private Path linkFor(Path absoluteDir) {
        return runtimeDir.resolve(linkName(absoluteDir));
    }

    private static Path absolute(Path dir) {
        return Objects.requireNonNull(dir, "longDir").toAbsolutePath().normalize();
    }

    private void ensureRuntimeDir() {
        try {
            Files.createDirectory(runtimeDir,
                    PosixFilePermissions.asFileAttribute(BoxliteHome.OWNER_ONLY_DIRECTORY));
            // why: the umask may have cleared bits of the requested mode
            Files.setPosixFilePermissions(runtimeDir, BoxliteHome.OWNER_ONLY_DIRECTORY);
        } catch (FileAlreadyExistsException e) {
            // why: verified below, whoever made it
        } catch (IOException e) {
            throw new StorageException("Cannot create socket directory " + runtimeDir
                    + ": check the permissions of " + runtimeDir.getParent(), e);
        }
        verifyRuntimeDir();
    }

    private void verifyRuntimeDir() {
        Map<String, Object> attributes;
        try {
            attributes = Files.readAttributes(runtimeDir, "unix:mode,uid",
                    LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new StorageException("Cannot inspect socket directory " + runtimeDir, e);
        }
        int mode = (Integer) attributes.get("mode");
        long owner = Integer.toUnsignedLong((Integer) attributes.get("uid"));
        String advice = ": another user could use it to intercept BoxLite's sockets. Remove it"
                + " (BoxLite recreates it) or set " + RUNTIME_DIR_VARIABLE
                + " to a private directory";
        if ((mode & ~PERMISSION_BITS) != DIRECTORY_TYPE_BITS) {
            String what = Files.isSymbolicLink(runtimeDir) ? "a symbolic link" : "not a directory";
            throw new StorageException("Socket directory " + runtimeDir + " is " + what + advice);
        }
        if (owner != uid) {
            throw new StorageException("Socket directory " + runtimeDir + " is owned by uid "
                    + owner + ", not by this user (uid " + uid + ")" + advice);
        }
        if ((mode & PERMISSION_BITS) != OWNER_ONLY) {
            throw new StorageException("Socket directory " + runtimeDir + " has mode "
                    + String.format("%04o", mode & PERMISSION_BITS) + ", not 0700" + advice);
        }
    }
}
