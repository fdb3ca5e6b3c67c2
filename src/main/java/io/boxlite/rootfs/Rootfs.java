package io.boxlite.rootfs;

import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageConfig;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An image's ext4 base, as {@link RootfsBuilder#build} returns it.
 *
 * @param manifest the image's manifest digest (its id); the base is cached under it
 * @param image    the raw ext4 file, {@code images/rootfs/<hex>.ext4}; never written to once
 *                 published (boxes write to their own qcow2 overlay of it)
 * @param config   the image config the runtime needs (Env, Entrypoint, Cmd, WorkingDir, User)
 * @param size     the file's apparent size in bytes (the filesystem's size)
 * @param built    whether this call built it ({@code false}: it was cached)
 */
public record Rootfs(Digest manifest, Path image, ImageConfig config, long size, boolean built) {
    public Rootfs {
        Objects.requireNonNull(manifest, "manifest");
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(config, "config");
    }
}
