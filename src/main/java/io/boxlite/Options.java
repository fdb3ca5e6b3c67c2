package io.boxlite;

import java.nio.file.Path;
import java.util.Optional;

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
 */
public record Options(Optional<Path> home, Optional<Path> scratchDir, Optional<Path> kernelDir,
                      Optional<EngineKind> engine) {

    public Options {
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

        public Options build() {
            return new Options(Optional.ofNullable(home), Optional.ofNullable(scratchDir),
                    Optional.ofNullable(kernelDir), Optional.ofNullable(engine));
        }
    }
}
