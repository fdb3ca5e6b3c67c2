package io.boxlite.rootfs;

import io.boxlite.oci.ImageException;

/**
 * A layer entry tried to leave the root filesystem (an absolute name, a {@code ..} component,
 * a write through a symbolic link, a hard link to something outside) or is otherwise unsafe to
 * apply. The message names the layer and the entry. Nothing of the build is kept.
 */
public final class UnsafeLayerException extends ImageException {
    private static final long serialVersionUID = 1L;

    public UnsafeLayerException(String message) {
        super(message);
    }
}
