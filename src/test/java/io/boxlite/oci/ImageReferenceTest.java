package io.boxlite.oci;

import io.boxlite.InvalidArgumentException;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageReferenceTest {
    private static final String HEX = "0123456789abcdef".repeat(4);

    @ParameterizedTest
    @CsvSource({
            "busybox, docker.io/library/busybox:latest",
            "python:3.12-slim, docker.io/library/python:3.12-slim",
            "bitnami/redis, docker.io/bitnami/redis:latest",
            "docker.io/busybox, docker.io/library/busybox:latest",
            "index.docker.io/library/busybox:1, docker.io/library/busybox:1",
            "ghcr.io/owner/app:v1.2, ghcr.io/owner/app:v1.2",
            "localhost/app, localhost/app:latest",
            "localhost:5000/a/b/c:t, localhost:5000/a/b/c:t",
            "127.0.0.1:5000/x, 127.0.0.1:5000/x:latest",
            "[::1]:5000/x:1, [::1]:5000/x:1",
            "Registry.Example/x, Registry.Example/x:latest",
            "my_app__x.y-z, docker.io/library/my_app__x.y-z:latest",
    })
    void docker_defaults_apply(String input, String canonical) {
        assertEquals(canonical, ImageReference.parse(input).toString());
    }

    @Test
    void digestReferencesHaveNoDefaultTagAndKeepAnExplicitOne() {
        var pinned = ImageReference.parse("busybox@sha256:" + HEX);
        assertEquals(Optional.empty(), pinned.tag());
        assertEquals("sha256:" + HEX, pinned.manifestReference());
        var both = ImageReference.parse("reg:5000/busybox:1.36@sha256:" + HEX);
        assertEquals(Optional.of("1.36"), both.tag());
        assertEquals("reg:5000", both.registry());
        assertEquals("sha256:" + HEX, both.manifestReference(), "the digest wins");
    }

    @Test
    void hubIsReachedThroughItsApiHost() {
        assertEquals("registry-1.docker.io", ImageReference.parse("busybox").apiAuthority());
        assertEquals("reg:5000", ImageReference.parse("reg:5000/x").apiAuthority());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "''| it is empty",
            "Busybox| must be lowercase",
            "busybox:| tag ''",
            "busybox:-x| tag '-x'",
            "busybox@sha256:abc| expected sha256:<64 lowercase hex",
            "busybox@md5:" + "0123456789abcdef0123456789abcdef| Unsupported digest algorithm",
            "a//b| path component ''",
            "reg:99x/app| not a valid host",
            "/app| path component ''",
            "app/| path component ''",
    })
    void malformedReferencesAreRefusedWithTheReason(String input, String reason) {
        var e = assertThrows(InvalidArgumentException.class, () -> ImageReference.parse(input));
        assertTrue(e.getMessage().startsWith("Invalid image reference '" + input + "'"),
                e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    @Test
    void tooLongNamesAreRefused() {
        var e = assertThrows(InvalidArgumentException.class,
                () -> ImageReference.parse("a/".repeat(130) + "b"));
        assertTrue(e.getMessage().contains("longer than 255"), e.getMessage());
    }

    @Test
    void loopbackHostsAreRecognised() {
        for (String host : new String[] {"localhost", "127.0.0.1", "127.255.0.9", "[::1]"}) {
            assertTrue(ImageReference.isLoopbackHost(host), host);
        }
        for (String host : new String[] {"128.0.0.1", "127.0.0", "127.0.0.256", "localhost.evil",
                "10.0.0.1", "[::2]"}) {
            assertFalse(ImageReference.isLoopbackHost(host), host);
        }
    }
}
