package io.boxlite.runtime.disk;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.home.BoxliteHome;
import io.boxlite.home.ScratchSpace;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * The read-only ext4 base of an image, built once per manifest and cached in
 * {@code init/rootfs/sha256-<hex>.ext4}: the layers are applied to a scratch directory, which
 * {@code mke2fs -d} turns into a sparse image sized to the content plus headroom.
 *
 * <p>Stopgap until the rootfs builder (its own branch) lands; {@link BoxDisks} is the only caller.
 */
public final class Ext4Bases {
    private static final System.Logger LOG = System.getLogger(Ext4Bases.class.getName());
    private static final long MIB = 1 << 20;
    /** Free space a base keeps beyond its content, so boxes can write without a bigger disk. */
    private static final long HEADROOM = 1024 * MIB;

    private Ext4Bases() {
    }

    /** The cached base of {@code image}, built first if needed. */
    public static Path base(BoxliteHome home, ImageStore store, ImageRecord image, ScratchSpace scratch) {
        Path target = home.init().resolve("rootfs").resolve("sha256-" + image.manifestDigest().hex() + ".ext4");
        if (Files.isRegularFile(target)) {
            return target;
        }
        long start = System.nanoTime();
        List<Path> layers = store.layerPaths(image);
        Path work = scratch.createTempDirectory("rootfs");
        try {
            Path tree = Files.createDirectory(work.resolve("tree"));
            LayerApplier applier = new LayerApplier(tree);
            for (Path layer : layers) {
                applier.apply(layer);
            }
            for (String d : List.of("proc", "sys", "dev", "tmp", "run")) {
                Path p = tree.resolve(d);
                if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(p);
                }
            }
            long size = roundUp(treeSize(tree) * 5 / 4 + HEADROOM, MIB);
            Files.createDirectories(target.getParent());
            home.staging().writeAtomically(target, staged -> {
                Files.deleteIfExists(staged);
                run(List.of("mke2fs", "-q", "-F", "-t", "ext4", "-L", "boxlite-root", "-d", tree.toString(),
                        staged.toString(), (size / MIB) + "M"), "mke2fs");
            });
            LOG.log(System.Logger.Level.INFO, "Built the ext4 base of {0} in {1} ms", image.reference(),
                    (System.nanoTime() - start) / 1_000_000);
            return target;
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.STORAGE, "Cannot build the root filesystem of " + image.reference()
                    + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(work);
        }
    }

    static void run(List<String> command, String what) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
        try {
            int status = p.waitFor();
            if (status != 0) {
                String hint = out.contains("No space left") ? " (the disk is full)" : "";
                throw new IOException(what + " failed with status " + status + hint + ": " + out);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(what + " was interrupted", e);
        }
    }

    private static long treeSize(Path tree) throws IOException {
        long[] total = {0};
        Files.walkFileTree(tree, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                total[0] += roundUp(attrs.size(), 4096) + 256; // blocks plus an inode's share
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                total[0] += 4096;
                return FileVisitResult.CONTINUE;
            }
        });
        return total[0];
    }

    private static long roundUp(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }

    static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "Cannot remove " + dir + ": " + e.getMessage());
        }
    }
}
