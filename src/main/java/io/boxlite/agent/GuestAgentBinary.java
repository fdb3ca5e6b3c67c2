package io.boxlite.agent;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.StorageException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The guest agent executable built with this jar ({@code src/guest/agent}, packaged as the
 * class-path resource {@value #RESOURCE}): a static x86-64 Linux binary for the initramfs, or
 * to run on the host for tests.
 *
 * {@snippet :
 * Path agent = GuestAgentBinary.install(dir);   // dir/boxlite-agent, mode 0755
 * String key = GuestAgentBinary.sha256();        // part of the initramfs cache key
 * }
 */
public final class GuestAgentBinary {
    public static final String RESOURCE = "/io/boxlite/guest/boxlite-agent";
    public static final String FILE_NAME = "boxlite-agent";

    private static volatile byte[] cached;

    private GuestAgentBinary() {
    }

    /** The executable's bytes. */
    public static byte[] bytes() {
        byte[] b = cached;
        if (b == null) {
            try (InputStream in = GuestAgentBinary.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new BoxliteException(ErrorCode.CONFIG, "The guest agent is missing from the class path ("
                            + RESOURCE + "): build with 'mvn package', which needs make and musl-gcc (run bin/setup)");
                }
                b = in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException("Reading " + RESOURCE, e);
            }
            cached = b;
        }
        return b.clone();
    }

    /** The SHA-256 of the executable, lowercase hex. */
    public static String sha256() {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes()));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is a required algorithm", e);
        }
    }

    /** Writes the executable to {@code dir/boxlite-agent} (mode 0755), staged and renamed. */
    public static Path install(Path dir) {
        Path target = dir.resolve(FILE_NAME);
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, ".boxlite-agent", ".tmp");
            Files.write(tmp, bytes());
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw new StorageException("Cannot install the guest agent at " + target + ": " + e.getMessage(), e);
        }
    }
}
