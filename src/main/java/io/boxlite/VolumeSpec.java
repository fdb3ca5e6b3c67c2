package io.boxlite;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A host directory shared into the box. Volumes need the shared-folder device, which is not
 * built yet: a box with volumes is refused at create with {@link UnsupportedException}.
 *
 * @param hostPath  absolute host path
 * @param guestPath absolute path in the box
 * @param readOnly  whether the box may only read it
 */
public record VolumeSpec(Path hostPath, String guestPath, boolean readOnly) {
    public VolumeSpec {
        Objects.requireNonNull(hostPath, "hostPath");
        Objects.requireNonNull(guestPath, "guestPath");
    }
}
