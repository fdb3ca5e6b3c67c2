package io.boxlite.oci.store;

import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One tagged image in the store: a row of {@code images.db}.
 *
 * @param reference      the canonical reference, e.g. {@code docker.io/library/busybox:latest}
 * @param manifestDigest the digest of the stored (single-platform) manifest; the image's id
 * @param mediaType      the manifest's media type
 * @param configDigest   the config blob's digest
 * @param indexDigest    the digest of the index the manifest was selected from, if any (what
 *                       {@code docker images --digests} shows for multi-platform images)
 * @param layers         the layer descriptors, base first
 * @param size           bytes of manifest, config and layers as stored (compressed)
 * @param pulledAt       when the image was pulled or imported
 */
public record ImageRecord(String reference, Digest manifestDigest, String mediaType,
                          Digest configDigest, Optional<Digest> indexDigest,
                          List<Descriptor> layers, long size, Instant pulledAt) {
    public ImageRecord {
        Objects.requireNonNull(reference, "reference");
        Objects.requireNonNull(manifestDigest, "manifestDigest");
        Objects.requireNonNull(mediaType, "mediaType");
        Objects.requireNonNull(configDigest, "configDigest");
        Objects.requireNonNull(indexDigest, "indexDigest");
        layers = List.copyOf(layers);
        Objects.requireNonNull(pulledAt, "pulledAt");
    }
}
