package io.boxlite.runtime;

import io.boxlite.BoxOptions;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What a box is, fixed at create: persisted in {@code boxes/{id}/config.json} and in
 * {@code db/boxes.db}.
 *
 * @param id             its ULID
 * @param name           its unique name, if it has one
 * @param createdAt      when it was created
 * @param options        the options it was created with
 * @param imageReference the canonical reference of the image its disk comes from
 * @param manifestDigest that image's manifest digest (pinned in the image store while the box lives)
 * @param image          the image's run defaults (ENV, ENTRYPOINT, CMD, WORKDIR, USER)
 */
public record BoxConfig(String id, Optional<String> name, Instant createdAt, BoxOptions options,
                        String imageReference, String manifestDigest, ImageDefaults image) {
    public BoxConfig {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(imageReference, "imageReference");
        Objects.requireNonNull(manifestDigest, "manifestDigest");
        Objects.requireNonNull(image, "image");
    }

    /** Whether the box has a main command of its own (an explicit entrypoint or cmd). */
    public boolean hasMainCommand() {
        return options.entrypoint().isPresent() || options.cmd().isPresent();
    }
}
