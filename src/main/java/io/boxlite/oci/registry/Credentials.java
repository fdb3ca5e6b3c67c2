package io.boxlite.oci.registry;

import io.boxlite.InvalidArgumentException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Objects;

/**
 * Credentials for one registry. {@code toString()} never shows a secret.
 */
public sealed interface Credentials {
    /** A username and password (or access token used as a password), sent as HTTP Basic to a
     * Basic registry or to the token service of a Bearer registry. */
    record Basic(String username, String password) implements Credentials {
        public Basic {
            Objects.requireNonNull(username, "username");
            Objects.requireNonNull(password, "password");
            if (username.isEmpty() || username.contains(":")) {
                throw new InvalidArgumentException("Registry username must be non-empty and "
                        + "contain no ':'");
            }
        }

        String header() {
            return "Basic " + Base64.getEncoder().encodeToString(
                    (username + ":" + password).getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String toString() {
            return "Basic[" + username + ", ****]";
        }
    }

    /** A ready bearer token, sent as is ({@code Authorization: Bearer …}). */
    record BearerToken(String token) implements Credentials {
        public BearerToken {
            Objects.requireNonNull(token, "token");
            if (token.isBlank() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
                throw new InvalidArgumentException("A bearer token must be non-empty printable "
                        + "ASCII without spaces");
            }
        }

        @Override
        public String toString() {
            return "BearerToken[****]";
        }
    }

    static Basic basic(String username, String password) {
        return new Basic(username, password);
    }

    static BearerToken bearer(String token) {
        return new BearerToken(token);
    }
}
