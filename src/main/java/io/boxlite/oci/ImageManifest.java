package io.boxlite.oci;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A single-platform image manifest (OCI or Docker schema 2).
 *
 * @param mediaType {@link MediaTypes#OCI_MANIFEST} or {@link MediaTypes#DOCKER_MANIFEST}
 * @param bytes     the exact document
 * @param config    the config blob
 * @param layers    the layer blobs, base first
 */
public record ImageManifest(String mediaType, byte[] bytes, Descriptor config,
                            List<Descriptor> layers) implements ManifestDocument {
    public ImageManifest {
        Objects.requireNonNull(mediaType, "mediaType");
        Objects.requireNonNull(bytes, "bytes");
        Objects.requireNonNull(config, "config");
        layers = List.copyOf(layers);
    }

    /** The config followed by the layers: every blob this manifest references. */
    public List<Descriptor> blobs() {
        var all = new ArrayList<Descriptor>(layers.size() + 1);
        all.add(config);
        all.addAll(layers);
        return all;
    }

    /** Bytes of the manifest, config and layers together (compressed, as stored). */
    public long totalSize() {
        long total = bytes.length;
        for (Descriptor blob : blobs()) {
            total = Math.addExact(total, blob.size());
        }
        return total;
    }

    /** The descriptor of this manifest itself. */
    public Descriptor descriptor() {
        return Descriptor.of(mediaType, digest(), bytes.length);
    }
}
