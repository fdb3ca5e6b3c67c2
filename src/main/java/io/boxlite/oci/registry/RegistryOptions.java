package io.boxlite.oci.registry;

import io.boxlite.InvalidArgumentException;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.RetryPolicy;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * How the registry client talks to registries.
 *
 * {@snippet :
 * var options = RegistryOptions.builder()
 *         .credentials("registry.example:5000", new Credentials.Basic("ci", secret))
 *         .insecureRegistry("build-cache.lan:5000")
 *         .build();
 * }
 *
 * @param credentials        per registry ({@code host[:port]} as in references; {@code docker.io}
 *                           for Docker Hub)
 * @param insecureRegistries registries ({@code host[:port]} or {@code host}) reached over plain
 *                           http; loopback registries always are, as with Docker
 * @param platform           the platform picked from multi-platform images
 * @param retry              retries of transient failures
 * @param connectTimeout     TCP/TLS connect timeout
 * @param responseTimeout    wait for a response's headers
 * @param maxRedirects       redirects followed per request
 */
public record RegistryOptions(Map<String, Credentials> credentials, Set<String> insecureRegistries,
                              Platform platform, RetryPolicy retry, Duration connectTimeout,
                              Duration responseTimeout, int maxRedirects) {
    public RegistryOptions {
        credentials = Map.copyOf(credentials);
        insecureRegistries = Set.copyOf(insecureRegistries);
        Objects.requireNonNull(platform, "platform");
        Objects.requireNonNull(retry, "retry");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(responseTimeout, "responseTimeout");
        if (maxRedirects < 0) {
            throw new InvalidArgumentException("maxRedirects must not be negative");
        }
    }

    /** No credentials, nothing insecure, the host's platform, default retries and timeouts. */
    public static RegistryOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The credentials for {@code registry} ({@code host[:port]}), if any. */
    public Optional<Credentials> credentialsFor(String registry) {
        return Optional.ofNullable(credentials.get(registry.toLowerCase(Locale.ROOT)));
    }

    /** Whether {@code authority} ({@code host[:port]}) is reached over plain http. */
    public boolean plainHttp(String authority) {
        String a = authority.toLowerCase(Locale.ROOT);
        return ImageReference.isLoopbackHost(ImageReference.hostOf(a))
                || insecureRegistries.contains(a)
                || insecureRegistries.contains(ImageReference.hostOf(a));
    }

    /** Builds {@link RegistryOptions}; not thread-safe. */
    public static final class Builder {
        private final Map<String, Credentials> credentials = new HashMap<>();
        private final Set<String> insecure = new HashSet<>();
        private Platform platform = Platform.host();
        private RetryPolicy retry = RetryPolicy.DEFAULT;
        private Duration connectTimeout = Duration.ofSeconds(30);
        private Duration responseTimeout = Duration.ofSeconds(60);
        private int maxRedirects = 5;

        private Builder() {
        }

        /** Credentials for {@code registry} ({@code host[:port]}, {@code docker.io} for Hub). */
        public Builder credentials(String registry, Credentials value) {
            credentials.put(normalize(registry), Objects.requireNonNull(value, "credentials"));
            return this;
        }

        /** Reaches {@code registry} ({@code host[:port]} or {@code host}) over plain http. */
        public Builder insecureRegistry(String registry) {
            insecure.add(normalize(registry));
            return this;
        }

        public Builder platform(Platform value) {
            this.platform = value;
            return this;
        }

        public Builder retry(RetryPolicy value) {
            this.retry = value;
            return this;
        }

        public Builder connectTimeout(Duration value) {
            this.connectTimeout = value;
            return this;
        }

        public Builder responseTimeout(Duration value) {
            this.responseTimeout = value;
            return this;
        }

        public Builder maxRedirects(int value) {
            this.maxRedirects = value;
            return this;
        }

        public RegistryOptions build() {
            return new RegistryOptions(credentials, insecure, platform, retry, connectTimeout,
                    responseTimeout, maxRedirects);
        }

        private static String normalize(String registry) {
            Objects.requireNonNull(registry, "registry");
            String r = registry.strip().toLowerCase(Locale.ROOT);
            if (r.isEmpty() || r.contains("/")) {
                throw new InvalidArgumentException("Invalid registry '" + registry
                        + "': give host[:port] without a scheme or path");
            }
            return r.equals("index.docker.io") || r.equals(ImageReference.DOCKER_HUB_API)
                    ? ImageReference.DOCKER_HUB : r;
        }
    }
}
