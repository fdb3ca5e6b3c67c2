package io.boxlite.oci.registry;

import java.util.Optional;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AuthChallengeTest {
    @Test
    void bearerChallengeOfDockerHubParses() {
        var c = AuthChallenge.parse("Bearer realm=\"https://auth.docker.io/token\","
                + "service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"")
                .orElseThrow();
        assertEquals("bearer", c.scheme());
        assertEquals(Optional.of("https://auth.docker.io/token"), c.param("realm"));
        assertEquals(Optional.of("registry.docker.io"), c.param("service"));
        assertEquals(Optional.of("repository:library/busybox:pull"), c.param("scope"));
    }

    @Test
    void quotedCommasEscapesAndBareValuesParse() {
        var c = AuthChallenge.parse("Bearer realm=\"https://x/t\", scope=\"repository:a:pull,push\","
                + " error=insufficient_scope, note=\"say \\\"hi\\\"\"").orElseThrow();
        assertEquals(Optional.of("repository:a:pull,push"), c.param("scope"));
        assertEquals(Optional.of("insufficient_scope"), c.param("error"));
        assertEquals(Optional.of("say \"hi\""), c.param("note"));
    }

    @Test
    void basicAndMalformedChallenges() {
        assertEquals("basic", AuthChallenge.parse("Basic realm=\"Registry\"").orElseThrow().scheme());
        assertTrue(AuthChallenge.parse(null).isEmpty());
        assertTrue(AuthChallenge.parse("  ").isEmpty());
        assertTrue(AuthChallenge.parse("\"quoted\" x=1").isEmpty());
    }
}
