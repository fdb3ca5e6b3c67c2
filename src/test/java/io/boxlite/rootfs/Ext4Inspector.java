package io.boxlite.rootfs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads an ext4 image with debugfs and e2fsck, never mounting it. */
final class Ext4Inspector {
    private static final Pattern DEVICE = Pattern.compile("Device major/minor number: "
            + "([0-9]+):([0-9]+)");
    private static final Pattern LINKS = Pattern.compile("Links: ([0-9]+)");

    private final Path image;

    Ext4Inspector(Path image) {
        this.image = image;
    }

    /** One inode as {@code ls -p} shows it. */
    record Inode(String path, long ino, int mode, long uid, long gid, String size) {
        int type() {
            return mode & 0170000;
        }

        int perms() {
            return mode & 07777;
        }
    }

    /** Every path below the root (lost+found's contents left out), sorted. */
    Map<String, Inode> walk() {
        var all = new TreeMap<String, Inode>();
        var queue = new ArrayDeque<String>();
        queue.add("/");
        while (!queue.isEmpty()) {
            var batch = new ArrayList<String>();
            while (!queue.isEmpty()) {
                batch.add(queue.poll());
            }
            var script = new StringBuilder();
            for (String dir : batch) {
                script.append("ls -p ").append(Ext4Image.quote(dir)).append('\n');
            }
            String out = debugfsScript(script.toString());
            // why: debugfs echoes each command as "debugfs: ls -p DIR" before its listing
            String dir = null;
            for (String line : out.split("\n")) {
                if (line.startsWith("debugfs: ls -p ")) {
                    String quoted = line.substring("debugfs: ls -p ".length());
                    dir = quoted.substring(1, quoted.length() - 1).replace("\"\"", "\"");
                    continue;
                }
                if (!line.startsWith("/") || dir == null) {
                    continue;
                }
                String[] f = line.split("/", -1);
                // "/ino/mode/uid/gid/name/size/" → "", ino, mode, uid, gid, name, size, ""
                String name = f[5];
                if (name.equals(".") || name.equals("..")) {
                    continue;
                }
                String path = dir.equals("/") ? "/" + name : dir + "/" + name;
                var inode = new Inode(path, Long.parseLong(f[1]), Integer.parseInt(f[2], 8),
                        unsigned(f[3]), unsigned(f[4]), f[6]);
                all.put(path, inode);
                if (inode.type() == 040000 && !path.equals("/lost+found")) {
                    queue.add(path);
                }
            }
        }
        return all;
    }

    String stat(String path) {
        return debugfs("stat " + Ext4Image.quote(path));
    }

    int links(String path) {
        Matcher m = LINKS.matcher(stat(path));
        if (!m.find()) {
            throw new AssertionError("no link count for " + path);
        }
        return Integer.parseInt(m.group(1));
    }

    /** {@code major:minor}, or empty for a non-device. */
    String device(String path) {
        Matcher m = DEVICE.matcher(stat(path));
        return m.find() ? Integer.parseInt(m.group(1)) + ":" + Integer.parseInt(m.group(2)) : "";
    }

    long mtime(String path) {
        Matcher m = Pattern.compile("mtime: 0x([0-9a-f]+)").matcher(stat(path));
        if (!m.find()) {
            throw new AssertionError("no mtime for " + path);
        }
        return Long.parseLong(m.group(1), 16);
    }

    /** The raw value of one xattr, or null when it is not set. */
    byte[] xattr(String path, String name) {
        try {
            Path out = Files.createTempFile("boxlite-ea-", ".bin");
            try {
                Files.delete(out);
                debugfs("ea_get -f " + Ext4Image.quote(out.toString()) + " "
                        + Ext4Image.quote(path) + " " + Ext4Image.quote(name));
                if (!Files.exists(out)) {
                    return null; // why: debugfs writes no file for a missing attribute
                }
                return Files.readAllBytes(out);
            } finally {
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code ea_list}'s lines for {@code path}, as text. */
    String xattrList(String path) {
        return debugfs("ea_list " + Ext4Image.quote(path));
    }

    byte[] cat(String path) {
        return run(List.of(Ext4Image.tool("debugfs"), "-R", "cat " + Ext4Image.quote(path),
                image.toString()), true);
    }

    /** Runs {@code e2fsck -fn}; returns its exit code (0: clean) and output. */
    static String fsck(Path image) {
        try {
            Process p = new ProcessBuilder(Ext4Image.tool("e2fsck"), "-fn", image.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(5, TimeUnit.MINUTES);
            return p.exitValue() + "\n" + out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** A comparable description of every inode: type, mode, owner, size, device, xattrs. */
    Map<String, String> describeAll() {
        var out = new TreeMap<String, String>();
        for (Inode inode : walk().values()) {
            String extra = "";
            if (inode.type() == 020000 || inode.type() == 060000) {
                extra = " dev=" + device(inode.path());
            }
            String eas = xattrList(inode.path()).lines().filter(l -> l.startsWith("  "))
                    .map(String::strip).sorted().reduce("", (a, b) -> a + " " + b);
            out.put(inode.path(), String.format("%06o %d:%d size=%s%s%s", inode.mode(),
                    inode.uid(), inode.gid(), inode.size(), extra, eas));
        }
        return out;
    }

    String debugfs(String command) {
        return new String(run(List.of(Ext4Image.tool("debugfs"), "-R", command,
                image.toString()), false), StandardCharsets.UTF_8);
    }

    private String debugfsScript(String script) {
        try {
            Path file = Files.createTempFile("boxlite-debugfs-", ".cmds");
            try {
                Files.writeString(file, script);
                return new String(run(List.of(Ext4Image.tool("debugfs"), "-f", file.toString(),
                        image.toString()), false), StandardCharsets.UTF_8);
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] run(List<String> command, boolean stdoutOnly) {
        try {
            var pb = new ProcessBuilder(command);
            if (stdoutOnly) {
                pb.redirectError(ProcessBuilder.Redirect.DISCARD);
            } else {
                pb.redirectErrorStream(true);
            }
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new AssertionError(command + " failed:\n"
                        + new String(out, StandardCharsets.UTF_8));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** debugfs prints 32-bit ids as signed ints. */
    private static long unsigned(String id) {
        return Integer.toUnsignedLong((int) Long.parseLong(id));
    }

    static String hex(byte[] data) {
        return data == null ? "null" : HexFormat.of().formatHex(data);
    }
}
