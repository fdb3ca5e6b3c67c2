package io.boxlite.rootfs;

import io.boxlite.EngineUnavailableException;
import io.boxlite.StorageException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Turns a {@link StagedTree} into an ext4 image with e2fsprogs: {@code mke2fs -t ext4 -d tree}
 * copies the contents, then one {@code debugfs -w} pass gives every inode the owner, mode and
 * xattrs its {@link Node} records and turns placeholders into device nodes and fifos. The
 * result is the same whether the builder runs as root or not, since nothing depends on what
 * the staged files' owners were. {@code e2fsck -fn} must then find the image clean.
 *
 * <p>Sizing (4 KiB blocks): data = Σ⌈file/4096⌉ (each hard-linked inode once) + per directory
 * 1 + ⌈Σ(8 + name rounded to 4)/3072⌉ + 1 per symlink of 60+ bytes + 1 per inode whose xattrs
 * do not fit in the inode; inodes = 1.5 × entries + 16384; size = data × 1.02 + inodes × 256 B
 * + metadata (1/64 of that + 4 MiB) + journal (16 MiB below 1 GiB, else 64 MiB) + headroom,
 * rounded up to 1 MiB. The file is sparse: free space costs no disk.
 */
final class Ext4Image {
    static final String LABEL = "boxlite-rootfs";
    private static final long BLOCK = 4096;
    private static final long MIB = 1L << 20;
    private static final int INODE_SIZE = 256;
    private static final String DEBUGFS_BANNER = "debugfs ";
    private static final System.Logger LOG = System.getLogger(Ext4Image.class.getName());

    private Ext4Image() {
    }

    /** The computed size of an image. */
    record Sizing(long dataBlocks, long entries, long inodes, long journalMib, long bytes) {
    }

    static Sizing size(StagedTree tree, long headroomBytes) {
        var seen = new IdentityHashMap<Node, Boolean>();
        long blocks = 0;
        var dirBytes = new java.util.HashMap<String, Long>();
        for (var e : tree.nodes().entrySet()) {
            String path = e.getKey();
            Node node = e.getValue();
            if (!path.isEmpty()) {
                String parent = path.contains("/") ? path.substring(0, path.lastIndexOf('/')) : "";
                int nameBytes = path.substring(path.lastIndexOf('/') + 1)
                        .getBytes(StandardCharsets.UTF_8).length;
                dirBytes.merge(parent, 8L + ((nameBytes + 3) & ~3), Long::sum);
            }
            if (seen.put(node, Boolean.TRUE) != null) {
                continue;
            }
            switch (node.type()) {
                case REGULAR -> blocks += (node.size() + BLOCK - 1) / BLOCK;
                case SYMLINK -> blocks += node.size() >= 60 ? 1 : 0;
                default -> { }
            }
            long xattrBytes = node.xattrs().entrySet().stream()
                    .mapToLong(x -> x.getKey().length() + x.getValue().length + 20L).sum();
            if (xattrBytes > 96) {
                blocks += 1 + xattrBytes / BLOCK;
            }
        }
        for (var e : tree.nodes().entrySet()) {
            if (e.getValue().type() == TarEntry.Type.DIRECTORY) {
                blocks += 1 + (dirBytes.getOrDefault(e.getKey(), 0L) + 24 + 3071) / 3072;
            }
        }
        long entries = tree.nodes().size();
        long inodes = ((entries * 3 / 2 + 16384) + 7) & ~7L;
        long content = blocks * BLOCK * 102 / 100 + inodes * INODE_SIZE;
        long metadata = content / 64 + 4 * MIB;
        long journalMib = content < 1024 * MIB ? 16 : 64;
        long bytes = content + metadata + journalMib * MIB + headroomBytes;
        bytes = (bytes + MIB - 1) / MIB * MIB;
        return new Sizing(blocks, entries, inodes, journalMib, bytes);
    }

    /**
     * Builds the image at {@code image} (an existing, empty file it may overwrite).
     *
     * @param work     a private scratch directory (xattr values, the debugfs script, logs)
     * @param identity seeds the filesystem UUID and directory hash seed, so that rebuilding
     *                 one image gives the same identifiers
     */
    static Sizing build(StagedTree tree, Path image, Path work, long headroomBytes,
                        String identity) throws IOException {
        Sizing sizing = size(tree, headroomBytes);
        try (var file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(0);
            file.setLength(sizing.bytes());
        }
        long t0 = System.nanoTime();
        UUID uuid = UUID.nameUUIDFromBytes(("boxlite-rootfs-uuid:" + identity)
                .getBytes(StandardCharsets.UTF_8));
        UUID seed = UUID.nameUUIDFromBytes(("boxlite-rootfs-hash:" + identity)
                .getBytes(StandardCharsets.UTF_8));
        run(work, "mke2fs", List.of(tool("mke2fs"), "-q", "-F", "-t", "ext4", "-T", "default",
                "-b", "4096", "-I", Integer.toString(INODE_SIZE),
                "-N", Long.toString(sizing.inodes()), "-m", "0",
                "-J", "size=" + sizing.journalMib(), "-L", LABEL, "-U", uuid.toString(),
                "-E", "root_owner=0:0,hash_seed=" + seed
                        + ",lazy_itable_init=0,lazy_journal_init=0",
                "-d", tree.root().toString(), image.toString()));
        long t1 = System.nanoTime();
        Path script = work.resolve("debugfs.cmds");
        int commands = writeScript(tree, script, work.resolve("xattrs"));
        if (commands > 0) {
            String errors = run(work, "debugfs", List.of(tool("debugfs"), "-w", "-f",
                    script.toString(), image.toString()));
            List<String> problems = errors.lines()
                    .filter(l -> !l.isBlank() && !l.startsWith(DEBUGFS_BANNER)).toList();
            if (!problems.isEmpty()) {
                throw new StorageException("debugfs could not set the inodes of the root "
                        + "filesystem image: " + String.join("; ",
                                problems.subList(0, Math.min(5, problems.size())))
                        + (problems.size() > 5 ? " (and " + (problems.size() - 5) + " more)" : ""));
            }
        }
        long t2 = System.nanoTime();
        run(work, "e2fsck", List.of(tool("e2fsck"), "-fn", image.toString()));
        long t3 = System.nanoTime();
        LOG.log(System.Logger.Level.DEBUG, "Built {0}: {1} entries, {2} debugfs commands, {3} "
                + "MiB; mke2fs {4} ms, debugfs {5} ms, e2fsck {6} ms", image, sizing.entries(),
                commands, sizing.bytes() / MIB, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000,
                (t3 - t2) / 1_000_000);
        return sizing;
    }

    /**
     * Writes the debugfs commands that make each inode match its node, skipping what mke2fs
     * already copied right (an owner equal to the current user's, a mode equal to the staged
     * one). Returns the number of commands.
     */
    static int writeScript(StagedTree tree, Path script, Path xattrDir) throws IOException {
        long myUid = currentId("uid");
        long myGid = currentId("gid");
        var lines = new ArrayList<String>();
        int valueFiles = 0;
        for (var e : tree.nodes().entrySet()) {
            String path = "/" + e.getKey();
            Node node = e.getValue();
            String q = quote(path);
            long stagedUid = myUid;
            long stagedGid = myGid;
            int stagedMode;
            if (e.getKey().isEmpty()) {
                stagedUid = 0; // why: -E root_owner=0:0
                stagedGid = 0;
                stagedMode = -1; // why: mke2fs may or may not copy the staging root's mode
                lines.add("sif / mtime @" + node.mtime());
            } else {
                stagedMode = stagedMode(node);
            }
            if (node.type().isSpecial()) {
                int slash = path.lastIndexOf('/');
                String parent = slash == 0 ? "/" : path.substring(0, slash);
                String name = path.substring(slash + 1);
                lines.add("rm " + q);
                lines.add("cd " + quote(parent));
                lines.add(switch (node.type()) {
                    case FIFO -> "mknod " + quote(name) + " p";
                    case CHAR_DEVICE -> "mknod " + quote(name) + " c " + node.major() + " " + node.minor();
                    default -> "mknod " + quote(name) + " b " + node.major() + " " + node.minor();
                });
                lines.add("cd /");
                stagedUid = -1;
                stagedGid = -1;
                stagedMode = -1;
                lines.add("sif " + q + " mtime @" + node.mtime());
                lines.add("sif " + q + " atime @" + node.mtime());
            }
            if (node.stMode() != stagedMode) {
                lines.add("sif " + q + " mode 0" + Integer.toOctalString(node.stMode()));
            }
            if (node.uid() != stagedUid) {
                lines.add("sif " + q + " uid " + node.uid());
            }
            if (node.gid() != stagedGid) {
                lines.add("sif " + q + " gid " + node.gid());
            }
            for (Map.Entry<String, byte[]> x : node.xattrs().entrySet()) {
                if (valueFiles == 0) {
                    Files.createDirectories(xattrDir);
                }
                Path value = xattrDir.resolve(Integer.toString(valueFiles++));
                Files.write(value, x.getValue());
                lines.add("ea_set -f " + quote(value.toString()) + " " + q + " "
                        + quote(x.getKey()));
            }
        }
        Files.write(script, lines, StandardCharsets.UTF_8);
        return lines.size();
    }

    /** The mode mke2fs copies from the staged file of {@code node}. */
    private static int stagedMode(Node node) {
        return switch (node.type()) {
            case REGULAR -> 0100000 | (node.mode() & 0777) | 0600;
            case DIRECTORY -> 040755;
            case SYMLINK -> 0120777;
            default -> -1;
        };
    }

    /** A debugfs (libss) argument: double quotes, with {@code "} doubled inside. */
    static String quote(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    private static long currentId(String which) throws IOException {
        Object value = Files.getAttribute(Path.of("/proc/self"), "unix:" + which);
        return Integer.toUnsignedLong((Integer) value);
    }

    /** Finds an e2fsprogs tool in the sbin directories (often not on a user's PATH). */
    static String tool(String name) {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new EngineUnavailableException(name + " is not installed: install e2fsprogs "
                + "(Debian: apt-get install e2fsprogs, or run bin/setup)");
    }

    /** Runs a tool, returning its stderr; fails with its output on a non-zero exit. */
    private static String run(Path work, String name, List<String> command) throws IOException {
        Path out = work.resolve(name + ".out");
        Path err = work.resolve(name + ".err");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile())
                .redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(
                        Path.of("/dev/null").toFile())).start();
        try {
            if (!p.waitFor(30, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new StorageException(name + " did not finish within 30 minutes");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new StorageException("Interrupted while running " + name, e);
        }
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            String stdout = Files.readString(out, StandardCharsets.UTF_8);
            throw new StorageException(name + " failed (exit " + p.exitValue() + ") building the "
                    + "root filesystem image: " + tail(stdout + stderr));
        }
        return stderr;
    }

    private static String tail(String text) {
        String t = text.strip();
        return t.length() > 2000 ? "…" + t.substring(t.length() - 2000) : t;
    }

    static String describe(Sizing s) {
        return String.format(Locale.ROOT, "%d entries, %d data blocks, %d inodes, %d MiB",
                s.entries(), s.dataBlocks(), s.inodes(), s.bytes() / MIB);
    }
}
