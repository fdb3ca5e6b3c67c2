package io.boxlite.oci;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * An OCI image index or Docker manifest list: one manifest per platform.
 *
 * @param mediaType {@link MediaTypes#OCI_INDEX} or {@link MediaTypes#DOCKER_LIST}
 * @param bytes     the exact document
 * @param manifests its entries
 */
public record ImageIndex(String mediaType, byte[] bytes, List<Descriptor> manifests)
        implements ManifestDocument {
    public ImageIndex {
        Objects.requireNonNull(mediaType, "mediaType");
        Objects.requireNonNull(bytes, "bytes");
        manifests = List.copyOf(manifests);
    }

    /**
     * The entry for {@code wanted}: attestation entries ({@code unknown/unknown}) and entries
     * without a platform are skipped; among matches an exact variant wins, then the first.
     *
     * @throws ImageException naming the platforms on offer if none matches
     */
    public Descriptor select(Platform wanted, String what) {
        Optional<Descriptor> best = Optional.empty();
        int bestScore = 0;
        for (Descriptor entry : manifests) {
            if (entry.isAttestation() || entry.platform().isEmpty()) {
                continue;
            }
            Platform candidate = entry.platform().get();
            if (wanted.accepts(candidate) && wanted.score(candidate) > bestScore) {
                best = Optional.of(entry);
                bestScore = wanted.score(candidate);
            }
        }
        return best.orElseThrow(() -> new ImageException(what + " has no image for " + wanted
                + "; it offers: " + offered()));
    }

    private String offered() {
        String list = manifests.stream().filter(d -> !d.isAttestation())
                .map(d -> d.platform().map(Platform::toString).orElse("(no platform)"))
                .collect(Collectors.joining(", "));
        return list.isEmpty() ? "nothing" : list;
    }
}
