package io.boxlite.runtime;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.StorageException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.stream.Stream;

/** Host files to and from the tar streams the agent copies with ({@code copyIn}/{@code copyOut}). */
public final class TarStreams {
    private static final int PIPE = 256 * 1024;

    private TarStreams() {
    }

    /** Archives {@code source} (named by its last component) and hands the stream to {@code sink}. */
    public static void writeTo(Path source, Consumer<InputStream> sink) {
        try (PipedInputStream in = new PipedInputStream(PIPE); PipedOutputStream out = new PipedOutputStream(in)) {
            CompletableFuture<Void> writer = new CompletableFuture<>();
            Thread.ofVirtual().name("boxlite-tar-writer").start(() -> {
                try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
                    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                    add(tar, source, source.getFileName().toString());
                    tar.finish();
                    writer.complete(null);
                } catch (IOException | RuntimeException e) {
                    writer.completeExceptionally(e);
                }
            });
            sink.accept(in);
            writer.join();
        } catch (IOException e) {
            throw new StorageException("Cannot archive " + source + ": " + e.getMessage(), e);
        } catch (java.util.concurrent.CompletionException e) {
            throw new StorageException("Cannot archive " + source + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    private static void add(TarArchiveOutputStream tar, Path p, String name) throws IOException {
        if (Files.isSymbolicLink(p)) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK);
            e.setLinkName(Files.readSymbolicLink(p).toString());
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
            return;
        }
        int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            TarArchiveEntry e = new TarArchiveEntry(name + "/");
            e.setMode(040000 | mode);
            e.setModTime(Files.getLastModifiedTime(p).toMillis());
            tar.putArchiveEntry(e);
            tar.closeArchiveEntry();
            try (Stream<Path> children = Files.list(p)) {
                for (Path c : children.sorted().toList()) {
                    add(tar, c, name + "/" + c.getFileName());
                }
            }
        } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            TarArchiveEntry e = new TarArchiveEntry(p, name, LinkOption.NOFOLLOW_LINKS);
            e.setMode(0100000 | mode);
            tar.putArchiveEntry(e);
            Files.copy(p, tar);
            tar.closeArchiveEntry();
        }
    }

    /**
     * Runs {@code source} (which writes a tar stream) and extracts what it writes into
     * {@code dir}, refusing members that would leave it.
     */
    public static void extractFrom(Path dir, Consumer<OutputStream> source) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StorageException("Cannot create " + dir, e);
        }
        Path root = dir.toAbsolutePath().normalize();
        try (PipedInputStream in = new PipedInputStream(PIPE); PipedOutputStream out = new PipedOutputStream(in)) {
            CompletableFuture<Void> producer = new CompletableFuture<>();
            Thread.ofVirtual().name("boxlite-tar-source").start(() -> {
                try (out) {
                    source.accept(out);
                    producer.complete(null);
                } catch (IOException | RuntimeException e) {
                    producer.completeExceptionally(e);
                }
            });
            try (TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
                TarArchiveEntry e;
                while ((e = tar.getNextEntry()) != null) {
                    extract(tar, e, root);
                }
                in.transferTo(OutputStream.nullOutputStream());
            } catch (IOException e) {
                if (producer.isCompletedExceptionally()) {
                    producer.join();
                }
                throw e;
            }
            producer.join();
        } catch (IOException e) {
            throw new StorageException("Cannot extract into " + dir + ": " + e.getMessage(), e);
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof BoxliteException b ? b
                    : new BoxliteException(ErrorCode.INTERNAL, e.getCause().getMessage(), e.getCause());
        }
    }

    private static void extract(TarArchiveInputStream tar, TarArchiveEntry e, Path root) throws IOException {
        Path target = root.resolve(e.getName()).normalize();
        if (!target.startsWith(root) || target.equals(root) && !e.isDirectory()) {
            throw new IOException("archive member '" + e.getName() + "' leaves " + root);
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        if (!parent.toRealPath().startsWith(root.toRealPath())) {
            throw new IOException("archive member '" + e.getName() + "' would be written through a symbolic link");
        }
        if (e.isDirectory()) {
            Files.createDirectories(target);
        } else if (e.isSymbolicLink()) {
            Files.deleteIfExists(target);
            Files.createSymbolicLink(target, Path.of(e.getLinkName()));
            return;
        } else if (e.isFile()) {
            Files.deleteIfExists(target);
            try (OutputStream out = Files.newOutputStream(target)) {
                tar.transferTo(out);
            }
        } else {
            return;
        }
        Files.setPosixFilePermissions(target, permissions(e.getMode()));
        Files.setLastModifiedTime(target, FileTime.from(e.getModTime().toInstant()));
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = java.util.EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_READ};
        for (int i = 0; i < order.length; i++) {
            if ((mode & (1 << i)) != 0) {
                s.add(order[i]);
            }
        }
        return s;
    }
}
