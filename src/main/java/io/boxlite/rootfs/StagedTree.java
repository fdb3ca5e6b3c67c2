package io.boxlite.rootfs;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * A root filesystem being assembled: a directory in the home's {@code tmp/} holding the files'
 * contents (owned by the current user, with placeholders for device nodes and fifos), plus the
 * {@link Node} every path must have in the guest. Paths are relative, {@code /}-separated,
 * without {@code .} or {@code ..}; {@code ""} is the root.
 */
final class StagedTree {
    private final Path root;
    private final TreeMap<String, Node> nodes = new TreeMap<>();

    StagedTree(Path root) {
        this.root = Objects.requireNonNull(root, "root");
        nodes.put("", Node.implicitDirectory(0));
    }

    Path root() {
        return root;
    }

    Path disk(String path) {
        return path.isEmpty() ? root : root.resolve(path);
    }

    Node node(String path) {
        return nodes.get(path);
    }

    void put(String path, Node node) {
        nodes.put(path, node);
    }

    /** Every path and its node, sorted (a parent before its children). */
    NavigableMap<String, Node> nodes() {
        return Collections.unmodifiableNavigableMap(nodes);
    }

    /** The paths strictly below {@code dir}, sorted. */
    List<String> descendants(String dir) {
        if (dir.isEmpty()) {
            return new ArrayList<>(nodes.tailMap("", false).keySet());
        }
        // why: '0' is the character after '/', so this range is exactly "dir/..."
        return new ArrayList<>(nodes.subMap(dir + "/", true, dir + "0", false).keySet());
    }

    /** Removes {@code path} and everything below it, from the disk and the metadata. */
    void remove(String path) throws IOException {
        Path target = disk(path);
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            deleteTree(target);
        } else {
            Files.deleteIfExists(target);
        }
        descendants(path).forEach(nodes::remove);
        nodes.remove(path);
    }

    /**
     * Sets the staged files' and directories' times to their nodes' mtimes (symlinks too,
     * without following them), children before parents so that no later change touches a
     * directory's time. mke2fs copies these times into the image.
     */
    void applyTimes() throws IOException {
        for (var e : nodes.descendingMap().entrySet()) {
            Node node = e.getValue();
            if (node.type().isSpecial()) {
                continue; // why: recreated by debugfs, which sets their times itself
            }
            FileTime time = FileTime.from(Math.addExact(Math.multiplyExact(node.mtime(),
                    1_000_000_000L), node.nanos()), TimeUnit.NANOSECONDS);
            Files.getFileAttributeView(disk(e.getKey()), BasicFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS).setTimes(time, time, null);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                    throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException failure)
                    throws IOException {
                if (failure != null) {
                    throw failure;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
