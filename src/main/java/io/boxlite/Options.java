package io.boxlite;

import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Runtime-wide options. Every field is optional; an absent field falls back to its environment
 * variable and then to a default, as each accessor documents.
 *
 * {@snippet :
 * var options = Options.builder().home(Path.of("/srv/boxlite")).engine(EngineKind.QEMU).build();
 * }
 *
 * @param home      the BoxLite home; else {@code BOXLITE_HOME}, else {@code ~/.boxlite}
 * @param scratchDir scratch space that is never renamed into the home; else
 *                  {@code BOXLITE_TMPDIR}, else {@code java.io.tmpdir}
 * @param kernelDir a directory holding an unpacked guest kernel; else {@code BOXLITE_KERNEL_DIR},
 *                  else the pinned kernel installed by setup
 * @param engine    the engine to use; else {@code BOXLITE_ENGINE}, else chosen by the probe
 * @param maxUnpackedBytes the most bytes an image's layers may unpack to, all together (a guard
 *                  against decompression bombs; building a box's root filesystem from a larger
 *                  image fails with {@link ErrorCode#RESOURCE_EXHAUSTED}); else
 *                  {@code BOXLITE_MAX_UNPACKED_BYTES}, else 32 GiB
 */
public record Options(Optional<Path> home, Optional<Path> scratchDir, Optional<Path> kernelDir,
                      Optional<EngineKind> engine, OptionalLong maxUnpackedBytes) {

    /**
     * @throws InvalidArgumentException if {@code maxUnpackedBytes} is present and not positive
     */
    public Options {
        if (maxUnpackedBytes.isPresent() && maxUnpackedBytes.getAsLong() <= 0) {
            throw new InvalidArgumentException("maxUnpackedBytes: must be positive, got "
                    + maxUnpackedBytes.getAsLong());
        }
        home = home.map(Path::toAbsolutePath);
        scratchDir = scratchDir.map(Path::toAbsolutePath);
        kernelDir = kernelDir.map(Path::toAbsolutePath);
    }

    /** Options with every field absent: everything comes from the environment or defaults. */
    public static Options defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link Options}; not thread-safe. */
    public static final class Builder {
        private Path home;
        private Path scratchDir;
        private Path kernelDir;
        private EngineKind engine;
        private Long maxUnpackedBytes;

        private Builder() {
        }

        public Builder home(Path home) {
            this.home = home;
            return this;
        }

        public Builder scratchDir(Path scratchDir) {
            this.scratchDir = scratchDir;
            return this;
        }

        public Builder kernelDir(Path kernelDir) {
            this.kernelDir = kernelDir;
            return this;
        }

        public Builder engine(EngineKind engine) {
            this.engine = engine;
            return this;
        }

        /** The most bytes an image's layers may unpack to (see {@link Options#maxUnpackedBytes()}). */
        public Builder maxUnpackedBytes(long maxUnpackedBytes) {
            this.maxUnpackedBytes = maxUnpackedBytes;
            return this;
        }

        public Options build() {
            return new Options(Optional.ofNullable(home), Optional.ofNullable(scratchDir),
                    Optional.ofNullable(kernelDir), Optional.ofNullable(engine),
                    maxUnpackedBytes == null ? OptionalLong.empty() : OptionalLong.of(maxUnpackedBytes));
        }
    }
}
