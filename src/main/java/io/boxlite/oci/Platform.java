package io.boxlite.oci;

import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * An image platform: {@code os/architecture[/variant]} in Go's names ({@code linux/amd64},
 * {@code linux/arm64/v8}).
 *
 * @param os           e.g. {@code linux}
 * @param architecture e.g. {@code amd64}, {@code arm64}
 * @param variant      e.g. {@code v8} for arm64, {@code v7} for arm; empty when unspecified
 */
public record Platform(String os, String architecture, Optional<String> variant) {
    /** Docker's marker for attestation manifests in an index: {@code unknown/unknown}. */
    public static final String UNKNOWN = "unknown";

    public Platform {
        Objects.requireNonNull(os, "os");
        Objects.requireNonNull(architecture, "architecture");
        variant = variant.filter(v -> !v.isEmpty());
    }

    public static Platform of(String os, String architecture) {
        return new Platform(os, architecture, Optional.empty());
    }

    /** Linux on this host's architecture ({@code os.arch} mapped to Go's names). */
    public static Platform host() {
        return linuxFor(System.getProperty("os.arch", ""));
    }

    /**
     * Linux on the architecture Java calls {@code osArch}: {@code amd64}/{@code x86_64} →
     * {@code amd64}, {@code aarch64}/{@code arm64} → {@code arm64}; others pass through.
     */
    public static Platform linuxFor(String osArch) {
        String arch = osArch.toLowerCase(Locale.ROOT);
        return switch (arch) {
            case "amd64", "x86_64", "x64" -> of("linux", "amd64");
            case "aarch64", "arm64" -> new Platform("linux", "arm64", Optional.of("v8"));
            case "x86", "i386", "i686" -> of("linux", "386");
            default -> of("linux", arch);
        };
    }

    /** Whether this is an attestation entry's {@code unknown/unknown}. */
    public boolean isUnknown() {
        return UNKNOWN.equals(os) || UNKNOWN.equals(architecture);
    }

    /**
     * Whether an index entry for {@code candidate} can run here, as {@code this} the wanted
     * platform. The variant must match when both name one; an arm64 entry without a variant
     * counts as v8 (containerd's normalisation).
     */
    public boolean accepts(Platform candidate) {
        if (!os.equals(candidate.os) || !architecture.equals(candidate.architecture)) {
            return false;
        }
        Optional<String> theirs = candidate.variant.or(() -> defaultVariant(candidate.architecture));
        Optional<String> ours = variant.or(() -> defaultVariant(architecture));
        return ours.isEmpty() || theirs.isEmpty() || ours.equals(theirs);
    }

    /** How well {@code candidate} matches: an exact variant beats an unspecified one. */
    public int score(Platform candidate) {
        return variant.isPresent() && variant.equals(candidate.variant) ? 2 : 1;
    }

    private static Optional<String> defaultVariant(String architecture) {
        return architecture.equals("arm64") ? Optional.of("v8") : Optional.empty();
    }

    @Override
    public String toString() {
        return os + "/" + architecture + variant.map(v -> "/" + v).orElse("");
    }
}
