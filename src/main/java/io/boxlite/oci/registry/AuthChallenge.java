package io.boxlite.oci.registry;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A parsed {@code WWW-Authenticate} challenge, e.g.
 * {@code Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="…"}.
 *
 * @param scheme lowercase, e.g. {@code bearer}, {@code basic}
 * @param params parameter names lowercased
 */
record AuthChallenge(String scheme, Map<String, String> params) {
    /** Parses the first challenge of a header value; empty if it is malformed. */
    static Optional<AuthChallenge> parse(String header) {
        if (header == null) {
            return Optional.empty();
        }
        String text = header.strip();
        int space = text.indexOf(' ');
        String scheme = (space < 0 ? text : text.substring(0, space)).toLowerCase(Locale.ROOT);
        if (scheme.isEmpty() || !scheme.chars().allMatch(c -> Character.isLetterOrDigit(c)
                || c == '-' || c == '_')) {
            return Optional.empty();
        }
        var params = new LinkedHashMap<String, String>();
        int i = space < 0 ? text.length() : space + 1;
        while (i < text.length()) {
            while (i < text.length() && (text.charAt(i) == ' ' || text.charAt(i) == ',')) {
                i++;
            }
            int eq = text.indexOf('=', i);
            if (eq < 0) {
                break;
            }
            String name = text.substring(i, eq).strip().toLowerCase(Locale.ROOT);
            i = eq + 1;
            var value = new StringBuilder();
            if (i < text.length() && text.charAt(i) == '"') {
                i++;
                while (i < text.length() && text.charAt(i) != '"') {
                    char c = text.charAt(i);
                    if (c == '\\' && i + 1 < text.length()) {
                        c = text.charAt(++i);
                    }
                    value.append(c);
                    i++;
                }
                i++;
            } else {
                while (i < text.length() && text.charAt(i) != ',') {
                    value.append(text.charAt(i++));
                }
            }
            if (!name.isEmpty()) {
                params.put(name, value.toString().strip());
            }
        }
        return Optional.of(new AuthChallenge(scheme, params));
    }

    Optional<String> param(String name) {
        return Optional.ofNullable(params.get(name)).filter(v -> !v.isEmpty());
    }
}
