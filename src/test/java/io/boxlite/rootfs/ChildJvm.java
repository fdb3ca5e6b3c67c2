package io.boxlite.rootfs;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Starts {@link BuildMain} in another JVM, optionally as another user through setpriv. */
final class ChildJvm {
    private static String worldReadableClassPath;

    private ChildJvm() {
    }

    static void requireRootForSetpriv() {
        boolean root = "root".equals(System.getProperty("user.name"));
        Assumptions.assumeTrue(root && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "SKIPPED LOUDLY: running the builder as another user needs root and setpriv "
                        + "(util-linux); this test cannot check the unprivileged build here");
    }

    static ProcessBuilder builder(Path home, String digest, Optional<Integer> uid) {
        var command = new ArrayList<String>();
        String classPath = System.getProperty("java.class.path");
        if (uid.isPresent()) {
            command.addAll(List.of("/usr/bin/setpriv", "--reuid=" + uid.get(),
                    "--regid=" + uid.get(), "--clear-groups"));
            classPath = worldReadable(classPath);
        }
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=/tmp", "-cp", classPath,
                BuildMain.class.getName(), home.toString(), digest));
        return new ProcessBuilder(command).redirectErrorStream(true).directory(new File("/"));
    }

    static String await(Process p) throws Exception {
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("child JVM timed out");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new AssertionError("child JVM exited " + p.exitValue() + ":\n" + text);
        }
        return text;
    }

    /** A fresh directory under /tmp that another user can reach (JUnit's @TempDir is 0700). */
    static Path unprivilegedHome(Path unused) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "boxlite-nobody-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir.resolve("home");
    }

    static void chownTree(Path root, int uid) throws IOException {
        Process p = new ProcessBuilder("chown", "-R", uid + ":" + uid, root.toString())
                .redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException("chown failed: " + out);
            }
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
    }

    /** Copies the class path where another user can read it (root's ~/.m2 is 0700). */
    private static synchronized String worldReadable(String classPath) {
        if (worldReadableClassPath != null) {
            return worldReadableClassPath;
        }
        try {
            Path dir = Files.createTempDirectory(Path.of("/tmp"), "boxlite-cp-");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteQuietly(dir)));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            var entries = new ArrayList<String>();
            int i = 0;
            for (String entry : classPath.split(File.pathSeparator)) {
                Path source = Path.of(entry);
                if (!Files.exists(source)) {
                    continue;
                }
                Path copy = dir.resolve((i++) + "-" + source.getFileName());
                if (Files.isDirectory(source)) {
                    copyTree(source, copy);
                } else {
                    Files.copy(source, copy, StandardCopyOption.REPLACE_EXISTING);
                    Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
                }
                entries.add(copy.toString());
            }
            worldReadableClassPath = String.join(File.pathSeparator, entries);
            return worldReadableClassPath;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void deleteQuietly(Path dir) {
        try {
            if (Files.exists(dir)) {
                StagedTree.deleteTree(dir);
            }
        } catch (IOException e) {
            System.err.println("Could not delete " + dir + ": " + e);
        }
    }

    private static void copyTree(Path source, Path target) throws IOException {
        Files.walkFileTree(source, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
                    throws IOException {
                Path d = target.resolve(source.relativize(dir).toString());
                Files.createDirectories(d);
                Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                    throws IOException {
                Path f = target.resolve(source.relativize(file).toString());
                Files.copy(file, f, StandardCopyOption.REPLACE_EXISTING);
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
