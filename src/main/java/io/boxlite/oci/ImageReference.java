package io.boxlite.oci;

import io.boxlite.InvalidArgumentException;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * An image reference with Docker's defaults: {@code busybox} is
 * {@code docker.io/library/busybox:latest}; {@code registry.example:5000/team/app@sha256:…}
 * names a registry with a port and pins a digest.
 *
 * {@snippet :
 * ImageReference ref = ImageReference.parse("python:3.12-slim");
 * ref.registry();    // "docker.io"
 * ref.repository();  // "library/python"
 * ref.toString();    // "docker.io/library/python:3.12-slim"
 * }
 *
 * @param registry   the registry's host[:port] as written ({@code docker.io} by default)
 * @param repository the repository path, e.g. {@code library/busybox}
 * @param tag        the tag; {@code latest} when neither a tag nor a digest was given
 * @param digest     the pinned manifest digest, if any; it wins over the tag when pulling
 */
public record ImageReference(String registry, String repository, Optional<String> tag,
                             Optional<Digest> digest) {
    public static final String DOCKER_HUB = "docker.io";
    /** Where Docker Hub's registry API actually lives. */
    public static final String DOCKER_HUB_API = "registry-1.docker.io";

    private static final int MAX_NAME = 255;
    private static final Pattern COMPONENT =
            Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern DOMAIN = Pattern.compile(
            "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
            + "|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?");

    public ImageReference {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(repository, "repository");
        Objects.requireNonNull(tag, "tag");
        Objects.requireNonNull(digest, "digest");
    }

    /**
     * Parses {@code [registry/]repository[:tag][@sha256:digest]} as Docker does.
     *
     * @throws InvalidArgumentException naming what is wrong (empty, uppercase repository, bad
     *         tag, bad digest, too long…)
     */
    public static ImageReference parse(String text) {
        Objects.requireNonNull(text, "reference");
        String input = text.strip();
        if (input.isEmpty()) {
            throw invalid(text, "it is empty");
        }
        String rest = input;
        Optional<Digest> digest = Optional.empty();
        int at = rest.indexOf('@');
        if (at >= 0) {
            String digestText = rest.substring(at + 1);
            try {
                digest = Optional.of(Digest.parse(digestText));
            } catch (InvalidArgumentException e) {
                throw invalid(text, e.getMessage());
            }
            rest = rest.substring(0, at);
        }
        Optional<String> tag = Optional.empty();
        int lastSlash = rest.lastIndexOf('/');
        int colon = rest.lastIndexOf(':');
        if (colon > lastSlash) {
            String tagText = rest.substring(colon + 1);
            if (!TAG.matcher(tagText).matches()) {
                throw invalid(text, "tag '" + tagText + "' must be 1 to 128 characters from "
                        + "A-Z, a-z, 0-9, '_', '.', '-', not starting with '.' or '-'");
            }
            tag = Optional.of(tagText);
            rest = rest.substring(0, colon);
        }
        if (rest.isEmpty()) {
            throw invalid(text, "the repository name is missing");
        }
        String registry = DOCKER_HUB;
        String path = rest;
        int slash = rest.indexOf('/');
        if (slash > 0) {
            String first = rest.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost")
                    || !first.toLowerCase(Locale.ROOT).equals(first)) {
                registry = first;
                path = rest.substring(slash + 1);
            }
        }
        if (!DOMAIN.matcher(registry).matches()) {
            throw invalid(text, "registry '" + registry + "' is not a valid host[:port]");
        }
        if (registry.equals("index.docker.io") || registry.equals(DOCKER_HUB_API)) {
            registry = DOCKER_HUB;
        }
        for (String component : path.split("/", -1)) {
            if (!COMPONENT.matcher(component).matches()) {
                String why = component.toLowerCase(Locale.ROOT).equals(component)
                        ? "path component '" + component + "' must be lowercase letters and "
                                + "digits, separated by '.', '_', '__' or dashes"
                        : "repository name must be lowercase ('" + component + "')";
                throw invalid(text, why);
            }
        }
        if (registry.equals(DOCKER_HUB) && !path.contains("/")) {
            path = "library/" + path;
        }
        if (registry.length() + 1 + path.length() > MAX_NAME) {
            throw invalid(text, "the name is longer than " + MAX_NAME + " characters");
        }
        if (tag.isEmpty() && digest.isEmpty()) {
            tag = Optional.of("latest");
        }
        return new ImageReference(registry, path, tag, digest);
    }

    private static InvalidArgumentException invalid(String text, String why) {
        return new InvalidArgumentException("Invalid image reference '" + text + "': " + why);
    }

    /** The host[:port] the registry API is reached at ({@code registry-1.docker.io} for Hub). */
    public String apiAuthority() {
        return registry.equals(DOCKER_HUB) ? DOCKER_HUB_API : registry;
    }

    /** The registry host without its port (IPv6 literals keep their brackets). */
    public String host() {
        return hostOf(registry);
    }

    /** The host of {@code authority} ({@code host[:port]}), brackets kept for IPv6. */
    public static String hostOf(String authority) {
        if (authority.startsWith("[")) {
            int close = authority.indexOf(']');
            return close > 0 ? authority.substring(0, close + 1) : authority;
        }
        int colon = authority.lastIndexOf(':');
        return colon >= 0 ? authority.substring(0, colon) : authority;
    }

    /** Whether this reference's registry is on the loopback interface (Docker's plain-http rule). */
    public boolean isLoopback() {
        return isLoopbackHost(host());
    }

    /** {@code localhost}, {@code 127.0.0.0/8} and {@code ::1}. */
    public static boolean isLoopbackHost(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.equals("localhost") || h.equals("[::1]") || h.equals("::1")) {
            return true;
        }
        String[] octets = h.split("\\.", -1);
        if (octets.length != 4 || !octets[0].equals("127")) {
            return false;
        }
        for (String octet : octets) {
            if (!octet.matches("[0-9]{1,3}") || Integer.parseInt(octet) > 255) {
                return false;
            }
        }
        return true;
    }

    /** The repository with its registry: {@code docker.io/library/busybox}. */
    public String name() {
        return registry + "/" + repository;
    }

    /** What to ask the registry for: the digest if pinned, else the tag. */
    public String manifestReference() {
        return digest.map(Digest::toString).orElseGet(() -> tag.orElseThrow());
    }

    /** This reference pinned to {@code manifest} (tag kept). */
    public ImageReference withDigest(Digest manifest) {
        return new ImageReference(registry, repository, tag, Optional.of(manifest));
    }

    /** The canonical form, {@code registry/repository[:tag][@digest]}. */
    @Override
    public String toString() {
        return name() + tag.map(t -> ":" + t).orElse("") + digest.map(d -> "@" + d).orElse("");
    }
}
