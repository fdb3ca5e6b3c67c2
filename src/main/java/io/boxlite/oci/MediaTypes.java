package io.boxlite.oci;

import java.util.Set;

/** The media types of OCI and Docker image manifests, indexes, configs and layers. */
public final class MediaTypes {
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
    public static final String OCI_LAYER_NONDIST_GZIP =
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

    public static final String DOCKER_LIST =
            "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_MANIFEST =
            "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public static final String DOCKER_FOREIGN_LAYER_GZIP =
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public static final String DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
    public static final String DOCKER_SCHEMA1_SIGNED =
            "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /** Indexes: lists of per-platform manifests. */
    public static final Set<String> INDEXES = Set.of(OCI_INDEX, DOCKER_LIST);
    /** Single-platform image manifests. */
    public static final Set<String> MANIFESTS = Set.of(OCI_MANIFEST, DOCKER_MANIFEST);
    /** Image config blobs. */
    public static final Set<String> CONFIGS = Set.of(OCI_CONFIG, DOCKER_CONFIG);
    /** Layer blobs a rootfs can be built from. */
    public static final Set<String> LAYERS = Set.of(OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD,
            OCI_LAYER_NONDIST_GZIP, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER_GZIP);

    /** The {@code Accept} header of a manifest request: everything this client can read. */
    public static final String MANIFEST_ACCEPT = String.join(", ",
            OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST);

    private MediaTypes() {
    }

    /** Whether {@code mediaType} is a Docker schema 1 manifest, which this client refuses. */
    public static boolean isSchema1(String mediaType) {
        return DOCKER_SCHEMA1.equals(mediaType) || DOCKER_SCHEMA1_SIGNED.equals(mediaType);
    }
}
