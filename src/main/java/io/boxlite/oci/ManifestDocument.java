package io.boxlite.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * A manifest document as a registry or layout serves it: an {@link ImageIndex} or a
 * single-platform {@link ImageManifest}. Docker schema 1 is refused.
 */
public sealed interface ManifestDocument permits ImageIndex, ImageManifest {
    /** The media type (from the document, else from the transport's content type). */
    String mediaType();

    /** The exact bytes; their sha256 is the document's digest and must never change. */
    byte[] bytes();

    /** The sha256 of {@link #bytes()}. */
    default Digest digest() {
        return Digest.of(bytes());
    }

    /**
     * Parses a manifest or index.
     *
     * @param data        the exact bytes
     * @param contentType the transport's {@code Content-Type}, if any (parameters ignored)
     * @param what        names the document in errors, e.g. the reference
     * @throws ImageException for schema 1, unknown media types and malformed documents
     */
    static ManifestDocument parse(byte[] data, Optional<String> contentType, String what) {
        ObjectNode root = Json.object(data, what);
        Optional<String> declared = Json.text(root, "mediaType", what);
        Optional<String> transport = contentType
                .map(t -> t.split(";", 2)[0].strip().toLowerCase(Locale.ROOT))
                .filter(t -> !t.isEmpty());
        JsonNode schemaVersion = root.get("schemaVersion");
        boolean schema1 = schemaVersion != null && schemaVersion.asInt() == 1
                || declared.filter(MediaTypes::isSchema1).isPresent()
                || transport.filter(MediaTypes::isSchema1).isPresent();
        if (schema1) {
            throw new ImageException(what + " is a Docker schema 1 manifest, which is deprecated "
                    + "and not supported: push the image again with a current Docker or skopeo "
                    + "(they write schema 2 or OCI)");
        }
        if (schemaVersion == null || schemaVersion.asInt() != 2) {
            throw new ImageException(what + ": schemaVersion must be 2");
        }
        String mediaType = declared
                .or(() -> transport.filter(t -> MediaTypes.INDEXES.contains(t)
                        || MediaTypes.MANIFESTS.contains(t)))
                .orElseGet(() -> root.has("manifests") ? MediaTypes.OCI_INDEX
                        : MediaTypes.OCI_MANIFEST);
        if (MediaTypes.INDEXES.contains(mediaType)) {
            var entries = new ArrayList<Descriptor>();
            List<JsonNode> items = Json.array(root, "manifests", what);
            for (int i = 0; i < items.size(); i++) {
                entries.add(Descriptor.parse(items.get(i), what + " manifests[" + i + "]"));
            }
            return new ImageIndex(mediaType, data.clone(), entries);
        }
        if (MediaTypes.MANIFESTS.contains(mediaType)) {
            Descriptor config = Descriptor.parse(
                    Optional.ofNullable(root.get("config")).orElseThrow(
                            () -> new ImageException(what + ": field 'config' is missing")),
                    what + " config");
            var layers = new ArrayList<Descriptor>();
            List<JsonNode> items = Json.array(root, "layers", what);
            for (int i = 0; i < items.size(); i++) {
                layers.add(Descriptor.parse(items.get(i), what + " layers[" + i + "]"));
            }
            return new ImageManifest(mediaType, data.clone(), config, layers);
        }
        throw new ImageException(what + " has unsupported media type '" + mediaType
                + "': expected an OCI or Docker schema 2 manifest or index");
    }
}
