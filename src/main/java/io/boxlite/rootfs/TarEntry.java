package io.boxlite.rootfs;

import java.util.Map;
import java.util.Objects;

/**
 * One entry of a layer tar, as read by {@link TarReader}: names and extended attributes
 * exactly as archived (xattr values as raw bytes, which PAX {@code SCHILY.xattr.*} records may
 * hold in any encoding).
 *
 * @param name      the path, as archived (PAX {@code path}, GNU long name, or ustar prefix/name)
 * @param type      the entry type
 * @param mode      permission and special bits ({@code 07777})
 * @param uid       owner, 0 to 2^32-1
 * @param gid       group, 0 to 2^32-1
 * @param size      bytes of content that follow the header
 * @param mtime     modification time, seconds since the epoch
 * @param mtimeNanos sub-second part of {@code mtime}
 * @param linkName  symlink target or hard link target, empty otherwise
 * @param devMajor  device major number (character and block devices)
 * @param devMinor  device minor number
 * @param xattrs    extended attributes, name → raw value
 */
record TarEntry(String name, Type type, int mode, long uid, long gid, long size, long mtime,
                int mtimeNanos, String linkName, long devMajor, long devMinor,
                Map<String, byte[]> xattrs) {
    TarEntry {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(linkName, "linkName");
        xattrs = Map.copyOf(xattrs);
    }

    /** Entry types a layer may hold. */
    enum Type {
        REGULAR, HARDLINK, SYMLINK, CHAR_DEVICE, BLOCK_DEVICE, DIRECTORY, FIFO;

        boolean isDevice() {
            return this == CHAR_DEVICE || this == BLOCK_DEVICE;
        }

        /** Whether an unprivileged extraction stores a placeholder for it. */
        boolean isSpecial() {
            return isDevice() || this == FIFO;
        }
    }
}
