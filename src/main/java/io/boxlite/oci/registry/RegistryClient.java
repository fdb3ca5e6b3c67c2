package io.boxlite.oci.registry;

import com.fasterxml.jackson.databind.JsonNode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.NotFoundException;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Json;
import io.boxlite.oci.MediaTypes;
import io.boxlite.oci.store.BlobIngest;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One registry's HTTP API v2 (OCI distribution): manifests and blobs, with authentication
 * (anonymous and credentialed bearer tokens from the {@code WWW-Authenticate} challenge, Basic,
 * static bearer tokens), bounded retries of transient failures, and redirects followed by hand
 * so that {@code Authorization} is never sent to another host (blob storage on a CDN).
 * Thread-safe: tokens are cached per scope and shared by parallel downloads.
 */
final class RegistryClient {
    private static final System.Logger LOG = System.getLogger(RegistryClient.class.getName());
    private static final long MAX_MANIFEST = 4L << 20;
    private static final long MAX_TOKEN_RESPONSE = 1L << 20;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

    private final HttpClient http;
    private final String registry;
    private final String authority;
    private final URI base;
    private final RegistryOptions options;
    private final Optional<Credentials> credentials;
    /** Authorization header values by scope ("" for registry-wide Basic). */
    private final Map<String, String> authorizations = new ConcurrentHashMap<>();

    /** A fetched manifest document. */
    record FetchedManifest(byte[] bytes, Optional<String> contentType, Digest digest) {
    }

    RegistryClient(HttpClient http, ImageReference reference, RegistryOptions options) {
        this.http = http;
        this.registry = reference.registry();
        this.authority = reference.apiAuthority();
        this.options = options;
        this.credentials = options.credentialsFor(registry);
        String scheme = options.plainHttp(authority) ? "http" : "https";
        this.base = URI.create(scheme + "://" + authority);
        credentials.ifPresent(c -> {
            if (c instanceof Credentials.BearerToken token) {
                authorizations.put("", "Bearer " + token.token());
            }
        });
    }

    URI base() {
        return base;
    }

    /**
     * GETs a manifest or index by tag or digest and checks its digest against
     * {@code Docker-Content-Digest} and, when pulled by digest, against the digest asked for.
     *
     * @throws NotFoundException if the registry does not know it
     * @throws ImageException for other failures
     */
    FetchedManifest manifest(String repository, String reference) {
        URI uri = uri(repository, "manifests", reference);
        String what = registry + "/" + repository + ":" + reference;
        HttpResponse<InputStream> response = send(repository, uri,
                Map.of("Accept", MediaTypes.MANIFEST_ACCEPT), what);
        int status = response.statusCode();
        if (status != 200) {
            throw failure(response, what, "manifest");
        }
        byte[] body;
        try (InputStream in = response.body()) {
            body = readLimited(in, MAX_MANIFEST, "The manifest of " + what);
        } catch (IOException e) {
            throw new ImageException("Reading the manifest of " + what + " from " + base
                    + " failed", e);
        }
        Digest actual = Digest.of(body);
        Optional<String> header = response.headers().firstValue("Docker-Content-Digest");
        if (header.isPresent()) {
            Digest declared;
            try {
                declared = Digest.parse(header.get().strip());
            } catch (InvalidArgumentException e) {
                throw new ImageException(base + " sent a malformed Docker-Content-Digest for "
                        + what + ": " + e.getMessage(), e);
            }
            if (!declared.equals(actual)) {
                throw new ImageException("The manifest of " + what + " hashes to " + actual
                        + " but the registry says " + declared + ": refusing it");
            }
        }
        if (reference.startsWith("sha256:") && !Digest.parse(reference).equals(actual)) {
            throw new ImageException("The registry answered " + what + " with a manifest that "
                    + "hashes to " + actual + ": refusing it");
        }
        return new FetchedManifest(body, response.headers().firstValue("Content-Type"), actual);
    }

    /** Opens blob {@code digest} from byte {@code offset} (a Range request when > 0). */
    BlobIngest.Opened blob(String repository, Digest digest, long offset) throws IOException {
        URI uri = uri(repository, "blobs", digest.toString());
        String what = registry + "/" + repository + "@" + digest;
        Map<String, String> headers = offset > 0
                ? Map.of("Range", "bytes=" + offset + "-") : Map.of();
        HttpResponse<InputStream> response = send(repository, uri, headers, what);
        int status = response.statusCode();
        if (status == 200) {
            return new BlobIngest.Opened(response.body(), 0);
        }
        if (status == 206 && offset > 0) {
            String range = response.headers().firstValue("Content-Range").orElse("");
            Matcher m = CONTENT_RANGE.matcher(range);
            if (!m.matches() || Long.parseLong(m.group(1)) != offset) {
                response.body().close();
                // why: a range we did not ask for; start over rather than splice wrong bytes
                LOG.log(Level.DEBUG, "Ignoring unexpected Content-Range ''{0}'' for {1}", range, what);
                return blob(repository, digest, 0);
            }
            return new BlobIngest.Opened(response.body(), offset);
        }
        if (status == 416 && offset > 0) {
            response.body().close();
            return blob(repository, digest, 0);
        }
        throw failure(response, what, "blob");
    }

    /** The registry's URL for {@code /v2/<repository>/<kind>/<reference>}. */
    URI uri(String repository, String kind, String reference) {
        return base.resolve("/v2/" + repository + "/" + kind + "/" + reference);
    }

    /**
     * Sends a GET with retries on 429, 5xx and connection errors; authentication and
     * redirects are handled inside each attempt.
     */
    private HttpResponse<InputStream> send(String repository, URI uri, Map<String, String> headers,
                                           String what) {
        int max = options.retry().maxAttempts();
        for (int attempt = 1; ; attempt++) {
            try {
                HttpResponse<InputStream> response = exchange(repository, uri, headers, what);
                int status = response.statusCode();
                if ((status == 429 || status >= 500) && attempt < max) {
                    Duration hint = retryAfter(response);
                    response.body().close();
                    LOG.log(Level.DEBUG, "{0}: HTTP {1}, retry {2} of {3}", what, status,
                            attempt, max - 1);
                    options.retry().pause(attempt, hint);
                    continue;
                }
                return response;
            } catch (IOException e) {
                if (unresolved(e)) {
                    // why: a name that does not resolve will not in the next seconds either
                    throw new ImageException("Cannot reach registry " + base + " for " + what
                            + ": host " + base.getHost() + " is not found (check the name and "
                            + "your DNS)", e);
                }
                if (attempt >= max) {
                    throw new ImageException("Cannot reach registry " + base + " for " + what
                            + " after " + attempt + " attempts: " + describe(e)
                            + (base.getScheme().equals("https")
                                    ? "" : " (plain http; is the registry running?)"), e);
                }
                LOG.log(Level.DEBUG, "{0}: {1}, retry {2} of {3}", what, e, attempt, max - 1);
                options.retry().pause(attempt, null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ImageException("Interrupted while talking to " + base, e);
            }
        }
    }

    private HttpResponse<InputStream> exchange(String repository, URI uri,
                                               Map<String, String> headers, String what)
            throws IOException, InterruptedException {
        String scope = "repository:" + repository + ":pull";
        URI current = uri;
        boolean authenticated = false;
        for (int hops = 0; ; ) {
            boolean sameOrigin = sameOrigin(current, base);
            HttpRequest.Builder request = HttpRequest.newBuilder(current).GET()
                    .timeout(options.responseTimeout());
            headers.forEach(request::header);
            if (current.getScheme().equals("http")) {
                request.version(HttpClient.Version.HTTP_1_1);
            }
            String authorization = sameOrigin ? authorizationFor(scope) : null;
            if (authorization != null) {
                request.header("Authorization", authorization);
            }
            HttpResponse<InputStream> response = http.send(request.build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            int status = response.statusCode();
            if (status == 401 && sameOrigin && !authenticated) {
                String challenge = response.headers().firstValue("WWW-Authenticate").orElse(null);
                response.body().close();
                authenticate(challenge, scope, what);
                authenticated = true;
                continue;
            }
            if (isRedirect(status)) {
                Optional<String> location = response.headers().firstValue("Location");
                response.body().close();
                if (location.isEmpty()) {
                    throw new ImageException(base + " redirected " + what + " without a Location");
                }
                if (++hops > options.maxRedirects()) {
                    throw new ImageException("Too many redirects fetching " + what + " from "
                            + base + " (more than " + options.maxRedirects() + ")");
                }
                current = redirectTarget(current, location.get(), what);
                continue;
            }
            return response;
        }
    }

    private URI redirectTarget(URI from, String location, String what) {
        URI target;
        try {
            target = from.resolve(location.strip());
        } catch (IllegalArgumentException e) {
            throw new ImageException(base + " redirected " + what + " to a malformed URL", e);
        }
        String scheme = Optional.ofNullable(target.getScheme()).orElse("").toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            throw new ImageException(base + " redirected " + what + " to unsupported scheme '"
                    + scheme + "'");
        }
        if (from.getScheme().equals("https") && scheme.equals("http")
                && !options.plainHttp(target.getRawAuthority())) {
            throw new ImageException(base + " redirected " + what + " from https to plain http ("
                    + target.getHost() + "): refusing the downgrade; mark that host insecure if "
                    + "you trust the network");
        }
        return target;
    }

    private String authorizationFor(String scope) {
        String scoped = authorizations.get(scope);
        return scoped != null ? scoped : authorizations.get("");
    }

    /** Answers a 401 challenge: fetches a bearer token or prepares Basic credentials. */
    private void authenticate(String header, String scope, String what)
            throws IOException, InterruptedException {
        Optional<AuthChallenge> parsed = AuthChallenge.parse(header);
        if (parsed.isEmpty()) {
            throw new ImageException("Registry " + registry + " refused " + what
                    + " (HTTP 401) without a usable WWW-Authenticate challenge");
        }
        AuthChallenge challenge = parsed.get();
        if (credentials.orElse(null) instanceof Credentials.BearerToken) {
            throw new ImageException("Registry " + registry + " rejected the configured bearer "
                    + "token for " + what + " (HTTP 401): renew the token");
        }
        switch (challenge.scheme()) {
            case "basic" -> {
                if (!(credentials.orElse(null) instanceof Credentials.Basic basic)) {
                    throw new ImageException("Registry " + registry + " requires a username and "
                            + "password for " + what + ": configure credentials for " + registry);
                }
                if (authorizations.putIfAbsent("", basic.header()) != null) {
                    throw rejected(what);
                }
            }
            case "bearer" -> {
                String wanted = challenge.param("scope").orElse(scope);
                String previous = authorizations.get(scope);
                String token = fetchToken(challenge, wanted, what);
                String value = "Bearer " + token;
                if (value.equals(previous)) {
                    throw rejected(what);
                }
                authorizations.put(scope, value);
            }
            default -> throw new ImageException("Registry " + registry + " asks for unsupported "
                    + "authentication scheme '" + challenge.scheme() + "' for " + what);
        }
    }

    private String fetchToken(AuthChallenge challenge, String scope, String what)
            throws IOException, InterruptedException {
        String realm = challenge.param("realm").orElseThrow(() -> new ImageException(
                "Registry " + registry + " sent a Bearer challenge without a realm"));
        URI realmUri;
        try {
            realmUri = URI.create(realm);
        } catch (IllegalArgumentException e) {
            throw new ImageException("Registry " + registry + " named a malformed token realm '"
                    + realm + "'", e);
        }
        String scheme = Optional.ofNullable(realmUri.getScheme()).orElse("");
        if (!scheme.equals("https") && !(scheme.equals("http")
                && options.plainHttp(Optional.ofNullable(realmUri.getRawAuthority()).orElse("")))) {
            throw new ImageException("Registry " + registry + " sends clients for tokens to "
                    + realm + ", which is not https: refusing (mark the host insecure to allow it)");
        }
        var query = new LinkedHashMap<String, String>();
        challenge.param("service").ifPresent(s -> query.put("service", s));
        query.put("scope", scope);
        var joined = new ArrayList<String>();
        query.forEach((k, v) -> joined.add(k + "=" + URLEncoder.encode(v, StandardCharsets.UTF_8)));
        String separator = realm.contains("?") ? "&" : "?";
        URI tokenUri = URI.create(realm + separator + String.join("&", joined));
        HttpRequest.Builder request = HttpRequest.newBuilder(tokenUri).GET()
                .timeout(options.responseTimeout()).header("Accept", "application/json");
        if (scheme.equals("http")) {
            request.version(HttpClient.Version.HTTP_1_1);
        }
        if (credentials.orElse(null) instanceof Credentials.Basic basic) {
            request.header("Authorization", basic.header());
        }
        HttpResponse<InputStream> response = http.send(request.build(),
                HttpResponse.BodyHandlers.ofInputStream());
        byte[] body;
        try (InputStream in = response.body()) {
            body = readLimited(in, MAX_TOKEN_RESPONSE, "The token response of " + realm);
        }
        int status = response.statusCode();
        if (status == 401 || status == 403) {
            throw new ImageException(credentials.isPresent()
                    ? "The token service of " + registry + " (" + realmUri.getHost()
                            + ") rejected the credentials of " + username()
                            + " (HTTP " + status + "): check the username and password"
                    : "The token service of " + registry + " refused an anonymous token for "
                            + what + " (HTTP " + status + "): configure credentials");
        }
        if (status != 200) {
            throw new ImageException("The token service of " + registry + " (" + realm
                    + ") failed with HTTP " + status + errorText(body));
        }
        JsonNode json = Json.object(body, "The token response of " + realm);
        Optional<String> token = Json.text(json, "token", "token response")
                .or(() -> Json.text(json, "access_token", "token response"))
                .filter(t -> !t.isBlank());
        return token.orElseThrow(() -> new ImageException("The token service of " + registry
                + " answered without a token"));
    }

    private ImageException rejected(String what) {
        return credentials.isPresent()
                ? new ImageException("Registry " + registry + " rejected the credentials of "
                        + username() + " for " + what + " (HTTP 401): check the username and "
                        + "password, and that this user may pull the repository")
                : new ImageException("Registry " + registry + " requires authentication for "
                        + what + " (HTTP 401): configure credentials for " + registry);
    }

    private String username() {
        return credentials.map(c -> c instanceof Credentials.Basic b ? "'" + b.username() + "'"
                : "the configured token").orElse("anonymous");
    }

    private RuntimeException failure(HttpResponse<InputStream> response, String what, String kind) {
        byte[] body;
        try (InputStream in = response.body()) {
            body = in.readNBytes(16 * 1024);
        } catch (IOException e) {
            body = new byte[0];
        }
        int status = response.statusCode();
        String detail = errorText(body);
        return switch (status) {
            case 404 -> new NotFoundException("Image " + kind + " " + what + " not found on "
                    + base + detail + ": check the name and tag");
            case 401 -> rejected(what);
            case 403 -> new ImageException("Registry " + registry + " denied access to " + what
                    + " (HTTP 403)" + detail + ": check that " + username()
                    + " may pull this repository");
            default -> new ImageException("Registry " + registry + " failed to serve " + what
                    + " (HTTP " + status + ")" + detail);
        };
    }

    /** The first error message of an OCI error body, as {@code ": message"}, or "". */
    private static String errorText(byte[] body) {
        try {
            JsonNode errors = Json.MAPPER.readTree(body).path("errors");
            if (errors.isArray() && !errors.isEmpty()) {
                JsonNode first = errors.get(0);
                String code = first.path("code").asText("");
                String message = first.path("message").asText("");
                String text = (code + " " + message).strip();
                if (!text.isEmpty()) {
                    return ": " + (text.length() > 200 ? text.substring(0, 200) + "…" : text);
                }
            }
        } catch (IOException | RuntimeException e) {
            // why: error bodies are best effort
        }
        return "";
    }

    private static byte[] readLimited(InputStream in, long limit, String what) throws IOException {
        byte[] data = in.readNBytes(Math.toIntExact(limit + 1));
        if (data.length > limit) {
            throw new ImageException(what + " is larger than " + limit + " bytes: refusing it");
        }
        return data;
    }

    private static Duration retryAfter(HttpResponse<?> response) {
        return response.headers().firstValue("Retry-After")
                .filter(v -> v.strip().matches("\\d{1,5}"))
                .map(v -> Duration.ofSeconds(Long.parseLong(v.strip())))
                .orElse(null);
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme())
                && Objects.equals(a.getHost(), b.getHost()) && port(a) == port(b);
    }

    private static int port(URI uri) {
        if (uri.getPort() >= 0) {
            return uri.getPort();
        }
        return uri.getScheme().equalsIgnoreCase("https") ? 443 : 80;
    }

    private static boolean unresolved(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.nio.channels.UnresolvedAddressException
                    || t instanceof java.net.UnknownHostException) {
                return true;
            }
        }
        return false;
    }

    private static String describe(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : " (" + message + ")");
    }
}
