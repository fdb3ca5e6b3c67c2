package io.boxlite.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * An OCI content descriptor: what a manifest or index says about a blob.
 *
 * @param mediaType   the blob's media type
 * @param digest      its sha256 digest
 * @param size        its exact size in bytes
 * @param platform    for index entries, the platform the manifest is for
 * @param annotations annotations, e.g. {@code org.opencontainers.image.ref.name}
 */
public record Descriptor(String mediaType, Digest digest, long size, Optional<Platform> platform,
                         Map<String, String> annotations) {
    /** The annotation naming a tag in an OCI layout's {@code index.json}. */
    public static final String REF_NAME = "org.opencontainers.image.ref.name";
    /** Docker's annotation marking an attestation manifest in an index. */
    public static final String DOCKER_REFERENCE_TYPE = "vnd.docker.reference.type";

    public Descriptor {
        Objects.requireNonNull(mediaType, "mediaType");
        Objects.requireNonNull(digest, "digest");
        if (size < 0) {
            throw new ImageException("Descriptor of " + digest + " has negative size " + size);
        }
        annotations = Map.copyOf(annotations);
    }

    public static Descriptor of(String mediaType, Digest digest, long size) {
        return new Descriptor(mediaType, digest, size, Optional.empty(), Map.of());
    }

    /** Parses a descriptor object; {@code what} names it in errors. */
    public static Descriptor parse(JsonNode node, String what) {
        if (!node.isObject()) {
            throw new ImageException(what + " is not a JSON object");
        }
        Optional<Platform> platform = Optional.empty();
        JsonNode p = node.get("platform");
        if (p != null && !p.isNull()) {
            platform = Optional.of(new Platform(
                    Json.requiredText(p, "os", what + ".platform"),
                    Json.requiredText(p, "architecture", what + ".platform"),
                    Json.text(p, "variant", what + ".platform")));
        }
        return new Descriptor(Json.requiredText(node, "mediaType", what),
                Json.digest(node, "digest", what), Json.requiredLong(node, "size", what), platform,
                Json.stringMap(node, "annotations", what));
    }

    /** This descriptor with {@code annotations} instead of its own. */
    public Descriptor withAnnotations(Map<String, String> replacement) {
        return new Descriptor(mediaType, digest, size, platform, replacement);
    }

    /** Whether this index entry is a Docker attestation manifest (skipped when pulling). */
    public boolean isAttestation() {
        return "attestation-manifest".equals(annotations.get(DOCKER_REFERENCE_TYPE))
                || platform.map(Platform::isUnknown).orElse(false);
    }

    /** The descriptor as a JSON object, in the OCI field order. */
    public ObjectNode toJson() {
        ObjectNode node = Json.MAPPER.createObjectNode();
        node.put("mediaType", mediaType);
        node.put("digest", digest.toString());
        node.put("size", size);
        platform.ifPresent(p -> {
            ObjectNode pn = node.putObject("platform");
            pn.put("architecture", p.architecture());
            pn.put("os", p.os());
            p.variant().ifPresent(v -> pn.put("variant", v));
        });
        if (!annotations.isEmpty()) {
            ObjectNode an = node.putObject("annotations");
            annotations.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> an.put(e.getKey(), e.getValue()));
        }
        return node;
    }
}
