package io.boxlite.runtime.disk;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.UnsupportedException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * Applies OCI layer tarballs (plain or gzip) onto a directory, in order, with the image spec's
 * whiteouts ({@code .wh.NAME} deletes NAME, {@code .wh..wh..opq} empties the directory of what
 * lower layers put there).
 *
 * <p>Layers are untrusted: member names are confined to the root, and every parent directory is
 * resolved inside the root as a chroot would (a symlink {@code etc -> /} in one layer never lets
 * another layer write outside). Device nodes and FIFOs are skipped (the guest's devtmpfs
 * provides devices). Ownership is kept when running as root.
 */
final class LayerApplier {
    private static final System.Logger LOG = System.getLogger(LayerApplier.class.getName());
    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final int MAX_LINKS = 40;
    private static final boolean ROOT = isRoot();

    private final Path root;

    private static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    LayerApplier(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    void apply(Path layer) {
        Set<Path> ours = new HashSet<>();
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(layer), 1 << 16);
             TarArchiveInputStream tar = new TarArchiveInputStream(decompress(raw, layer))) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                applyEntry(tar, e, ours);
            }
        } catch (IOException ex) {
            throw new BoxliteException(ErrorCode.IMAGE, "Cannot apply layer " + layer.getFileName() + ": "
                    + ex.getMessage(), ex);
        }
    }

    private static InputStream decompress(InputStream in, Path layer) throws IOException {
        in.mark(4);
        int b0 = in.read();
        int b1 = in.read();
        int b2 = in.read();
        int b3 = in.read();
        in.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            return new GZIPInputStream(in, 1 << 16);
        }
        if (b0 == 0x28 && b1 == 0xb5 && b2 == 0x2f && b3 == 0xfd) {
            throw new UnsupportedException("Layer " + layer.getFileName() + " is zstd-compressed, which this "
                    + "rootfs builder cannot read yet; use an image with gzip layers");
        }
        return in;
    }

    private void applyEntry(TarArchiveInputStream tar, TarArchiveEntry e, Set<Path> ours) throws IOException {
        String name = relativeName(e.getName());
        if (name.isEmpty()) {
            return; // the root itself
        }
        Path rel = Path.of(name);
        String base = rel.getFileName().toString();
        Path parent = resolveDir(rel.getParent());
        if (base.equals(OPAQUE)) {
            if (Files.isDirectory(parent, LinkOption.NOFOLLOW_LINKS)) {
                try (var children = Files.list(parent)) {
                    for (Path c : children.toList()) {
                        if (!ours.contains(c)) {
                            deleteTree(c);
                        }
                    }
                }
            }
            return;
        }
        if (base.startsWith(WHITEOUT)) {
            String victim = base.substring(WHITEOUT.length());
            if (victim.isEmpty() || victim.equals(".") || victim.equals("..") || victim.contains("/")) {
                throw new IOException("bad whiteout " + e.getName());
            }
            deleteTree(parent.resolve(victim));
            return;
        }
        Path target = parent.resolve(base);
        ours.add(target);
        if (e.isDirectory()) {
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(target);
                Files.createDirectories(target);
            }
            attributes(target, e, false);
            return;
        }
        deleteTree(target); // an entry replaces whatever a lower layer had there
        if (e.isSymbolicLink()) {
            Files.createSymbolicLink(target, Path.of(e.getLinkName()));
            attributes(target, e, true);
        } else if (e.isLink()) {
            String linked = relativeName(e.getLinkName());
            Path source = resolveDir(Path.of(linked).getParent()).resolve(Path.of(linked).getFileName());
            if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("hard link " + e.getName() + " points at " + e.getLinkName()
                        + ", which is not a regular file in the image");
            }
            Files.createLink(target, source);
        } else if (e.isFile()) {
            try (OutputStream out = Files.newOutputStream(target)) {
                tar.transferTo(out);
            }
            attributes(target, e, false);
        } else {
            LOG.log(System.Logger.Level.DEBUG, "Skipping special file {0} of type {1}", e.getName(), (int) e.getLinkFlag());
        }
    }

    private void attributes(Path p, TarArchiveEntry e, boolean link) throws IOException {
        if (ROOT) {
            Files.setAttribute(p, "unix:uid", Math.toIntExact(e.getLongUserId()), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(p, "unix:gid", Math.toIntExact(e.getLongGroupId()), LinkOption.NOFOLLOW_LINKS);
        }
        if (!link) {
            Files.setAttribute(p, "unix:mode", e.getMode() & 07777);
            Files.setLastModifiedTime(p, FileTime.from(e.getModTime().toInstant()));
        }
    }

    /** The member name relative to the root; refuses names that leave it. */
    private static String relativeName(String name) throws IOException {
        String n = name;
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        while (n.startsWith("/")) {
            n = n.substring(1);
        }
        while (n.endsWith("/")) {
            n = n.substring(0, n.length() - 1);
        }
        if (n.equals(".")) {
            return "";
        }
        for (String part : n.split("/")) {
            if (part.equals("..") || part.indexOf('\0') >= 0) {
                throw new IOException("member '" + name + "' leaves the image's root");
            }
        }
        return n;
    }

    /**
     * The host path of directory {@code rel} (relative to the root), resolving symlinks inside the
     * root the way the guest will see them, and creating missing directories.
     */
    private Path resolveDir(Path rel) throws IOException {
        Deque<String> todo = new ArrayDeque<>();
        if (rel != null) {
            for (Path part : rel) {
                todo.addLast(part.toString());
            }
        }
        Path current = root;
        int links = 0;
        while (!todo.isEmpty()) {
            String part = todo.removeFirst();
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                current = current.equals(root) ? root : current.getParent();
                continue;
            }
            Path next = current.resolve(part);
            if (Files.isSymbolicLink(next)) {
                if (++links > MAX_LINKS) {
                    throw new IOException("too many symbolic links under " + rel);
                }
                String target = Files.readSymbolicLink(next).toString();
                Deque<String> expanded = new ArrayDeque<>();
                for (String t : target.split("/")) {
                    expanded.addLast(t);
                }
                while (!expanded.isEmpty()) {
                    todo.addFirst(expanded.removeLast());
                }
                if (target.startsWith("/")) {
                    current = root;
                }
                continue;
            }
            if (!Files.exists(next, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectory(next);
            } else if (!Files.isDirectory(next, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException(root.relativize(next) + " is not a directory but a member lies under it");
            }
            current = next;
        }
        if (!current.startsWith(root)) {
            throw new IOException(rel + " resolves outside the image's root");
        }
        return current;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (var children = Files.list(p)) {
                for (Path c : children.toList()) {
                    deleteTree(c);
                }
            }
        }
        try {
            Files.delete(p);
        } catch (DirectoryNotEmptyException | FileAlreadyExistsException e) {
            throw new IOException("cannot replace " + p, e);
        }
    }
}
