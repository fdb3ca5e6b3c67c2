package io.boxlite.lab;

import io.boxlite.guest.CpioWriter;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The files of an initramfs to be, by archive path: host files (copied when written), literal
 * bytes and symbolic links. Parent directories are implied. {@link #digest} identifies the
 * content cheaply (host files by path, size and modification time), {@link #write} emits a
 * "newc" cpio archive with every parent before its children.
 */
final class ImageTree {
    private sealed interface Source permits HostFile, Bytes, Link {
    }

    private record HostFile(Path path, int mode) implements Source {
    }

    private record Bytes(byte[] content, int mode) implements Source {
    }

    private record Link(String target) implements Source {
    }

    private final Map<String, Source> entries = new TreeMap<>();

    /** Adds a host file (following symbolic links) with its own permission bits. */
    ImageTree file(String archivePath, Path hostFile) throws IOException {
        return put(archivePath, new HostFile(hostFile, permissions(hostFile)));
    }

    /** Adds a symbolic link to {@code target} (as the guest resolves it). */
    ImageTree link(String archivePath, String target) {
        return put(archivePath, new Link(target));
    }

    ImageTree bytes(String archivePath, byte[] content, int mode) {
        return put(archivePath, new Bytes(content.clone(), mode));
    }

    ImageTree text(String archivePath, String content, int mode) {
        return bytes(archivePath, content.getBytes(StandardCharsets.UTF_8), mode);
    }

    /**
     * Adds a host directory tree under {@code archiveDir}: regular files, and symbolic links kept
     * as links.
     */
    ImageTree tree(String archiveDir, Path hostDir) throws IOException {
        try (Stream<Path> walk = Files.walk(hostDir)) {
            for (Path p : walk.sorted().toList()) {
                if (p.equals(hostDir)) {
                    continue;
                }
                String name = archiveDir + "/" + hostDir.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    put(name, new Link(Files.readSymbolicLink(p).toString()));
                } else if (Files.isRegularFile(p)) {
                    file(name, p);
                }
            }
        }
        return this;
    }

    private ImageTree put(String archivePath, Source source) {
        String p = normalize(archivePath);
        Source old = entries.putIfAbsent(p, source);
        if (old != null && !old.equals(source)) {
            throw new IllegalArgumentException("two different files for " + p + " in the lab image");
        }
        return this;
    }

    boolean contains(String archivePath) {
        return entries.containsKey(normalize(archivePath));
    }

    private static String normalize(String path) {
        String p = path.replaceAll("/+", "/");
        return p.startsWith("/") ? p.substring(1) : p;
    }

    /** Identifies the tree: archive paths, host file identities (path, size, mtime), literal contents. */
    void digest(MessageDigest sha) throws IOException {
        for (var e : entries.entrySet()) {
            sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
            switch (e.getValue()) {
                case HostFile f -> sha.update((" file " + f.path().toRealPath() + " " + Files.size(f.path()) + " "
                        + Files.getLastModifiedTime(f.path()).toMillis() + " " + f.mode() + "\n")
                        .getBytes(StandardCharsets.UTF_8));
                case Bytes b -> {
                    sha.update((" bytes " + b.mode() + "\n").getBytes(StandardCharsets.UTF_8));
                    sha.update(b.content());
                }
                case Link l -> sha.update((" link " + l.target() + "\n").getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    /** Writes the uncompressed cpio archive (the outer kernel unpacks it fastest uncompressed). */
    void write(Path target) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(target), 1 << 20)) {
            CpioWriter cpio = new CpioWriter(out);
            java.util.Set<String> dirs = new java.util.HashSet<>();
            for (var e : entries.entrySet()) {
                String[] parts = e.getKey().split("/");
                StringBuilder dir = new StringBuilder();
                for (int i = 0; i < parts.length - 1; i++) {
                    dir.append(i == 0 ? "" : "/").append(parts[i]);
                    if (dirs.add(dir.toString())) {
                        cpio.directory(dir.toString(), 0755);
                    }
                }
                switch (e.getValue()) {
                    case HostFile f -> cpio.file(e.getKey(), f.mode(), Files.readAllBytes(f.path()));
                    case Bytes b -> cpio.file(e.getKey(), b.mode(), b.content());
                    case Link l -> cpio.symlink(e.getKey(), l.target());
                }
            }
            cpio.finish();
        }
    }

    private static int permissions(Path file) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
        int mode = 0;
        for (PosixFilePermission p : perms) {
            mode |= switch (p) {
                case OWNER_READ -> 0400;
                case OWNER_WRITE -> 0200;
                case OWNER_EXECUTE -> 0100;
                case GROUP_READ -> 040;
                case GROUP_WRITE -> 020;
                case GROUP_EXECUTE -> 010;
                case OTHERS_READ -> 04;
                case OTHERS_WRITE -> 02;
                case OTHERS_EXECUTE -> 01;
            };
        }
        return mode;
    }
}
