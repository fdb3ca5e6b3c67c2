package io.boxlite.rootfs;

import java.util.Map;
import java.util.Objects;

/**
 * The metadata an inode of the root filesystem must have in the guest, recorded while the
 * staging tree is filled as the current user (whose files carry neither these owners nor, for
 * device nodes and fifos, these types). Hard links share one {@code Node} instance.
 *
 * @param type     the file type ({@link TarEntry.Type#HARDLINK} never appears here)
 * @param mode     permission and special bits ({@code 07777})
 * @param uid      owner
 * @param gid      group
 * @param mtime    modification time, seconds since the epoch
 * @param nanos    sub-second part of {@code mtime}
 * @param size     content bytes (regular files), target bytes (symlinks), else 0
 * @param major    device major number (devices)
 * @param minor    device minor number (devices)
 * @param xattrs   extended attributes, name → raw value
 */
record Node(TarEntry.Type type, int mode, long uid, long gid, long mtime, int nanos, long size,
            long major, long minor, Map<String, byte[]> xattrs) {
    Node {
        Objects.requireNonNull(type, "type");
        if (type == TarEntry.Type.HARDLINK) {
            throw new IllegalArgumentException("A node is never a hard link");
        }
        xattrs = Map.copyOf(xattrs);
    }

    /** A directory the layers never declared (a missing parent): root-owned, 0755. */
    static Node implicitDirectory(long mtime) {
        return new Node(TarEntry.Type.DIRECTORY, 0755, 0, 0, mtime, 0, 0, 0, 0, Map.of());
    }

    static Node of(TarEntry entry, TarEntry.Type type, long size) {
        return new Node(type, entry.mode(), entry.uid(), entry.gid(), entry.mtime(),
                entry.mtimeNanos(), size, entry.devMajor(), entry.devMinor(), entry.xattrs());
    }

    /** The full {@code st_mode}: file type bits and {@link #mode}. */
    int stMode() {
        int typeBits = switch (type) {
            case REGULAR -> 0100000;
            case DIRECTORY -> 040000;
            case SYMLINK -> 0120000;
            case CHAR_DEVICE -> 020000;
            case BLOCK_DEVICE -> 060000;
            case FIFO -> 010000;
            case HARDLINK -> throw new IllegalStateException("unreachable");
        };
        return typeBits | mode;
    }
}
