package io.boxlite.oci;

import io.boxlite.InvalidArgumentException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A content digest, {@code sha256:<64 lowercase hex>}. Only sha256 is accepted: it is what every
 * registry and the OCI image layout use, and a digest from untrusted input (a manifest, a
 * registry header, an archive) becomes a file name, so it is validated strictly.
 *
 * @param hex the 64 lowercase hex characters
 */
public record Digest(String hex) implements Comparable<Digest> {
    /** The only supported algorithm. */
    public static final String SHA256 = "sha256";

    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

    public Digest {
        Objects.requireNonNull(hex, "hex");
        if (!HEX.matcher(hex).matches()) {
            throw new InvalidArgumentException("Invalid sha256 digest hex '" + hex
                    + "': expected 64 lowercase hex characters");
        }
    }

    /**
     * Parses {@code sha256:<hex>}.
     *
     * @throws InvalidArgumentException if {@code text} is not a sha256 digest
     */
    public static Digest parse(String text) {
        Objects.requireNonNull(text, "text");
        int colon = text.indexOf(':');
        if (colon < 0) {
            throw new InvalidArgumentException("Invalid digest '" + text
                    + "': expected sha256:<64 hex characters>");
        }
        String algorithm = text.substring(0, colon);
        if (!algorithm.equals(SHA256)) {
            throw new InvalidArgumentException("Unsupported digest algorithm '" + algorithm
                    + "' in '" + text + "': only sha256 is supported");
        }
        String hex = text.substring(colon + 1);
        if (!HEX.matcher(hex).matches()) {
            throw new InvalidArgumentException("Invalid digest '" + text
                    + "': expected sha256:<64 lowercase hex characters>");
        }
        return new Digest(hex);
    }

    /** The sha256 digest of {@code data}. */
    public static Digest of(byte[] data) {
        return new Digest(HexFormat.of().formatHex(newSha256().digest(data)));
    }

    /** The digest a finished {@link MessageDigest} (from {@link #newSha256()}) computed. */
    public static Digest of(MessageDigest finished) {
        return new Digest(HexFormat.of().formatHex(finished.digest()));
    }

    /** A fresh sha256 {@link MessageDigest}. */
    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("Every Java platform has SHA-256", e);
        }
    }

    /** The first 12 hex characters, as Docker shows image and layer ids. */
    public String shortHex() {
        return hex.substring(0, 12);
    }

    @Override
    public int compareTo(Digest other) {
        return hex.compareTo(other.hex);
    }

    /** {@code sha256:<hex>}. */
    @Override
    public String toString() {
        return SHA256 + ":" + hex;
    }
}
