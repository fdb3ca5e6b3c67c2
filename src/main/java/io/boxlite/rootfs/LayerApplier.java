package io.boxlite.rootfs;

import io.boxlite.oci.ImageException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Applies layer tars, base first, onto a {@link StagedTree} with OCI semantics: {@code .wh.NAME}
 * whiteouts delete NAME from lower layers, {@code .wh..wh..opq} hides a directory's lower
 * contents, later entries replace earlier ones, directories merge.
 *
 * <p><b>Nothing escapes the tree.</b> Names and hard link targets that are absolute or contain
 * {@code ..} are refused; every parent component is checked with {@code lstat}
 * ({@link LinkOption#NOFOLLOW_LINKS}) and a symbolic link there is refused, so no entry is
 * ever written through a link an earlier entry or layer planted; the final component is
 * replaced, never followed; files are created with {@code O_CREAT|O_EXCL} semantics. The
 * tree is private to this process (the home is mode 0700), so checking then acting leaves
 * no window to an attacker, whose only input is the archive.
 *
 * <p>Contents are written as the current user with owner read/write access and no
 * setuid/setgid/sticky bits; devices and fifos become empty placeholder files. Their real
 * owners, modes, types and xattrs live in the tree's {@link Node}s, which the ext4 builder
 * writes into the image.
 */
final class LayerApplier {
    static final String WHITEOUT = ".wh.";
    static final String OPAQUE = ".wh..wh..opq";
    private static final int MAX_NAME_BYTES = 255;
    private static final int MAX_PATH_BYTES = 4095;

    private final StagedTree tree;
    private final UnpackBudget budget;
    private Set<String> layerPaths = new HashSet<>();
    private String what = "";
    private String entryName = "";

    LayerApplier(StagedTree tree, UnpackBudget budget) {
        this.tree = tree;
        this.budget = budget;
    }

    /**
     * Applies one uncompressed layer tar.
     *
     * @param what names the layer in errors, e.g. {@code "Layer sha256:ab12… (2 of 3)"}
     * @throws UnsafeLayerException if an entry tries to leave the tree
     * @throws ImageException if the tar is malformed
     */
    void apply(TarReader reader, String layerWhat) throws IOException {
        this.what = layerWhat;
        this.layerPaths = new HashSet<>();
        Optional<TarEntry> next;
        while ((next = reader.next()).isPresent()) {
            TarEntry entry = next.get();
            entryName = entry.name();
            budget.entry(entryName);
            if (entry.type() == TarEntry.Type.REGULAR) {
                budget.checkDeclared(entry.size());
            }
            applyEntry(entry, reader);
        }
    }

    private void applyEntry(TarEntry entry, TarReader reader) throws IOException {
        List<String> parts = components(entry.name(), "name");
        if (parts.isEmpty()) {
            if (entry.type() != TarEntry.Type.DIRECTORY) {
                throw unsafe("names the root directory but is not a directory");
            }
            tree.put("", Node.of(entry, TarEntry.Type.DIRECTORY, 0));
            layerPaths.add("");
            return;
        }
        String base = parts.getLast();
        String parent = String.join("/", parts.subList(0, parts.size() - 1));
        if (base.startsWith(WHITEOUT)) {
            whiteout(parent, base);
            return;
        }
        ensureParents(parts);
        String path = String.join("/", parts);
        Path disk = tree.disk(path);
        Optional<BasicFileAttributes> existing = lstat(disk);
        switch (entry.type()) {
            case DIRECTORY -> {
                if (existing.isPresent() && !existing.get().isDirectory()) {
                    tree.remove(path);
                    existing = Optional.empty();
                }
                if (existing.isEmpty()) {
                    Files.createDirectory(disk, dirPermissions());
                }
                tree.put(path, Node.of(entry, TarEntry.Type.DIRECTORY, 0));
            }
            case REGULAR -> {
                replace(path, existing);
                writeFile(disk, entry, reader.content());
                tree.put(path, Node.of(entry, TarEntry.Type.REGULAR, entry.size()));
            }
            case SYMLINK -> {
                if (entry.linkName().isEmpty()) {
                    throw unsafe("is a symbolic link with an empty target");
                }
                if (bytes(entry.linkName()) > MAX_PATH_BYTES || entry.linkName().indexOf('\0') >= 0) {
                    throw unsafe("is a symbolic link whose target is longer than 4095 bytes");
                }
                replace(path, existing);
                // why: the target is only stored, never followed here; the guest resolves it
                Files.createSymbolicLink(disk, Path.of(entry.linkName()));
                tree.put(path, Node.of(entry, TarEntry.Type.SYMLINK, bytes(entry.linkName())));
            }
            case HARDLINK -> hardlink(path, disk, existing, entry);
            case CHAR_DEVICE, BLOCK_DEVICE, FIFO -> {
                replace(path, existing);
                Files.createFile(disk, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rw-------")));
                tree.put(path, Node.of(entry, entry.type(), 0));
            }
        }
        layerPaths.add(path);
    }

    private void hardlink(String path, Path disk, Optional<BasicFileAttributes> existing,
                          TarEntry entry) throws IOException {
        List<String> targetParts = components(entry.linkName(), "hard link target");
        if (targetParts.isEmpty()) {
            throw unsafe("is a hard link to the root directory");
        }
        String target = String.join("/", targetParts);
        if (target.equals(path)) {
            throw unsafe("is a hard link to itself");
        }
        if (target.startsWith(path + "/")) {
            throw unsafe("is a hard link to '" + TarReader.printable(target) + "', inside "
                    + "the entry it replaces");
        }
        checkParents(targetParts, "hard link target");
        Path targetDisk = tree.disk(target);
        Optional<BasicFileAttributes> targetAttrs = lstat(targetDisk);
        Node targetNode = tree.node(target);
        if (targetAttrs.isEmpty() || targetNode == null) {
            throw unsafe("is a hard link to '" + TarReader.printable(target)
                    + "', which no earlier entry created");
        }
        if (targetAttrs.get().isDirectory()) {
            throw unsafe("is a hard link to directory '" + TarReader.printable(target) + "'");
        }
        replace(path, existing);
        // why: link(2) does not follow a symlink target, so the new name shares the target's
        // own inode, which is inside the tree
        Files.createLink(disk, targetDisk);
        tree.put(path, targetNode);
    }

    private void whiteout(String parent, String base) throws IOException {
        List<String> parentParts = parent.isEmpty() ? List.of() : List.of(parent.split("/"));
        checkParents(append(parentParts, base), "whiteout");
        if (!parent.isEmpty()) {
            Optional<BasicFileAttributes> dir = lstat(tree.disk(parent));
            if (dir.isEmpty()) {
                return; // why: nothing below to hide
            }
            if (!dir.get().isDirectory()) {
                throw unsafe("is a whiteout inside '" + TarReader.printable(parent)
                        + "', which is not a directory");
            }
        }
        if (base.equals(OPAQUE)) {
            opaque(parent);
            return;
        }
        String hidden = base.substring(WHITEOUT.length());
        if (hidden.startsWith(WHITEOUT)) {
            return; // why: other .wh..wh.* names are aufs bookkeeping; Docker ignores them too
        }
        if (hidden.isEmpty() || hidden.equals(".") || hidden.equals("..")) {
            throw unsafe("is a whiteout of '" + TarReader.printable(hidden)
                    + "', which names no file");
        }
        String path = parent.isEmpty() ? hidden : parent + "/" + hidden;
        if (lstat(tree.disk(path)).isPresent()) {
            tree.remove(path);
        }
    }

    /** Hides everything below {@code dir} that this layer did not itself create. */
    private void opaque(String dir) throws IOException {
        List<String> below = tree.descendants(dir);
        Set<String> keep = new HashSet<>();
        for (String path : below.reversed()) {
            if (layerPaths.contains(path) || keep.contains(path)) {
                for (String p = parentOf(path); !p.equals(dir) && keep.add(p); p = parentOf(p)) {
                    // why: a parent of something this layer created stays
                }
                continue;
            }
            tree.remove(path);
        }
    }

    private void ensureParents(List<String> parts) throws IOException {
        String path = "";
        for (int i = 0; i < parts.size() - 1; i++) {
            path = path.isEmpty() ? parts.get(i) : path + "/" + parts.get(i);
            Path disk = tree.disk(path);
            Optional<BasicFileAttributes> attrs = lstat(disk);
            if (attrs.isEmpty()) {
                Files.createDirectory(disk, dirPermissions());
                tree.put(path, Node.implicitDirectory(0));
                layerPaths.add(path);
            } else {
                checkParent(attrs.get(), path, "name");
            }
        }
    }

    private void checkParents(List<String> parts, String field) throws IOException {
        String path = "";
        for (int i = 0; i < parts.size() - 1; i++) {
            path = path.isEmpty() ? parts.get(i) : path + "/" + parts.get(i);
            Optional<BasicFileAttributes> attrs = lstat(tree.disk(path));
            if (attrs.isEmpty()) {
                return;
            }
            checkParent(attrs.get(), path, field);
        }
    }

    private void checkParent(BasicFileAttributes attrs, String path, String field) {
        if (attrs.isSymbolicLink()) {
            throw unsafe("has a " + field + " that goes through '" + TarReader.printable(path)
                    + "', a symbolic link an earlier entry or layer created: writing through it "
                    + "could leave the root filesystem");
        }
        if (!attrs.isDirectory()) {
            throw new ImageException(where() + " has a " + field + " inside '"
                    + TarReader.printable(path) + "', which is not a directory: the layer is "
                    + "malformed");
        }
    }

    private void replace(String path, Optional<BasicFileAttributes> existing) throws IOException {
        if (existing.isPresent()) {
            tree.remove(path);
        }
    }

    private void writeFile(Path disk, TarEntry entry, InputStream content) throws IOException {
        var perms = PosixFilePermissions.fromString("rw-------");
        for (PosixFilePermission p : PosixFilePermissions.fromString(
                permissionString(entry.mode() & 0777))) {
            perms.add(p);
        }
        Files.createFile(disk, PosixFilePermissions.asFileAttribute(perms));
        try (OutputStream out = Files.newOutputStream(disk, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS)) {
            content.transferTo(out);
        }
        // why: the umask may have cleared bits asked for at creation
        Files.setPosixFilePermissions(disk, perms);
    }

    private static java.nio.file.attribute.FileAttribute<Set<PosixFilePermission>> dirPermissions() {
        return PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static String permissionString(int mode) {
        var sb = new StringBuilder();
        String letters = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            sb.append((mode & (1 << (8 - i))) != 0 ? letters.charAt(i) : '-');
        }
        return sb.toString();
    }

    /**
     * The components of an archive path: {@code ./} prefixes and empty or {@code .} components
     * dropped; absolute paths, {@code ..}, over-long names and newlines (which the debugfs
     * command file cannot carry) refused.
     */
    private List<String> components(String name, String field) {
        if (name.startsWith("/")) {
            throw unsafe("has an absolute " + field + " '" + TarReader.printable(name)
                    + "': layer paths are relative to the root filesystem");
        }
        if (bytes(name) > MAX_PATH_BYTES) {
            throw unsafe("has a " + field + " longer than 4095 bytes");
        }
        var parts = new ArrayList<String>();
        for (String part : name.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw unsafe("has a " + field + " '" + TarReader.printable(name)
                        + "' with a '..' component, which could leave the root filesystem");
            }
            if (bytes(part) > MAX_NAME_BYTES) {
                throw unsafe("has a " + field + " component longer than 255 bytes");
            }
            if (part.indexOf('\n') >= 0 || part.indexOf('\r') >= 0 || part.indexOf('\0') >= 0) {
                throw unsafe("has a " + field + " with a line break or NUL, which BoxLite does "
                        + "not support in file names");
            }
            parts.add(part);
        }
        return parts;
    }

    private static List<String> append(List<String> parts, String last) {
        var all = new ArrayList<>(parts);
        all.add(last);
        return all;
    }

    private static String parentOf(String path) {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? "" : path.substring(0, slash);
    }

    private static Optional<BasicFileAttributes> lstat(Path path) throws IOException {
        try {
            return Optional.of(Files.readAttributes(path, BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    private static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    private String where() {
        return what + ", entry '" + TarReader.printable(entryName) + "'";
    }

    private UnsafeLayerException unsafe(String problem) {
        return new UnsafeLayerException(where() + " " + problem + "; the image was refused");
    }
}
