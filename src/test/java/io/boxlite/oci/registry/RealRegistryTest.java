package io.boxlite.oci.registry;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.fixtures.Fixtures;
import io.boxlite.oci.fixtures.RealRegistry;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pulls from Debian's docker-registry (distribution 2.8), with token auth and basic auth. */
class RealRegistryTest {
    @TempDir
    Path tmp;

    ImageStore store;

    @BeforeEach
    void openStore() {
        store = ImageStore.open(BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build()));
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    ImagePuller puller(RealRegistry registry, Credentials credentials) {
        var options = RegistryOptions.builder().platform(Platform.of("linux", "amd64"));
        if (credentials != null) {
            options.credentials(registry.authority(), credentials);
        }
        return new ImagePuller(store, options.build());
    }

    static final Credentials GOOD = new Credentials.Basic(RealRegistry.USER, RealRegistry.PASSWORD);
    static final Credentials BAD = new Credentials.Basic(RealRegistry.USER, "wrong");

    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class TokenAuth {
        RealRegistry registry;
        Fixtures.Images images;

        @BeforeAll
        void start(@TempDir Path dir) throws Exception {
            images = Fixtures.images();
            registry = RealRegistry.withTokenAuth(dir);
            String layout = "oci:" + images.layout() + ":";
            registry.push(layout + "busybox", "public/busybox:1.0", false);
            registry.push(layout + "extra", "private/extra:1.0", false);
            registry.push(layout + "multi", "public/multi:1.0", true);
        }

        @AfterAll
        void stop() {
            if (registry != null) {
                registry.close();
            }
        }

        ImageReference ref(String path) {
            return ImageReference.parse(registry.authority() + "/" + path);
        }

        @Test
        void anonymousPullGetsAnAnonymousBearerTokenFromTheChallenge() {
            int before = registry.tokens().authorizations.size();
            ImageRecord image = puller(registry, null).pull(ref("public/busybox:1.0"),
                    PullListener.NONE);
            assertEquals(images.busybox().digest(), image.manifestDigest(),
                    "manifest stored byte for byte");
            var requests = registry.tokens().authorizations.subList(before,
                    registry.tokens().authorizations.size());
            assertTrue(!requests.isEmpty() && requests.stream().allMatch(String::isEmpty),
                    requests.toString());
        }

        @Test
        void credentialedPullOfAPrivateRepository() {
            ImageRecord image = puller(registry, GOOD).pull(ref("private/extra:1.0"),
                    PullListener.NONE);
            assertEquals(images.extra().digest(), image.manifestDigest());
            assertEquals(2, image.layers().size());
        }

        @Test
        void anonymousPullOfAPrivateRepositoryAsksForCredentials() {
            var e = assertThrows(ImageException.class, () -> puller(registry, null)
                    .pull(ref("private/extra:1.0"), PullListener.NONE));
            assertTrue(e.getMessage().contains("requires authentication"), e.getMessage());
            assertTrue(store.list().isEmpty());
        }

        @Test
        void wrongPasswordIsRejectedByTheTokenServiceWithAClearError() {
            var e = assertThrows(ImageException.class, () -> puller(registry, BAD)
                    .pull(ref("private/extra:1.0"), PullListener.NONE));
            assertTrue(e.getMessage().contains("rejected the credentials of 'boxlite'"),
                    e.getMessage());
        }

        @Test
        void pullByDigest() {
            ImageRecord image = puller(registry, null).pull(ImageReference.parse(
                    registry.authority() + "/public/busybox@" + images.busybox().digest()),
                    PullListener.NONE);
            assertEquals(images.busybox().digest(), image.manifestDigest());
        }

        @Test
        void multiPlatformIndexWithAttestationResolvesToAmd64() {
            ImageRecord image = puller(registry, null).pull(ref("public/multi:1.0"),
                    PullListener.NONE);
            assertEquals(images.busybox().digest(), image.manifestDigest());
            assertEquals(Optional.of(images.multi().digest()), image.indexDigest());
        }
    }

    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class BasicAuth {
        RealRegistry registry;
        Fixtures.Images images;

        @BeforeAll
        void start(@TempDir Path dir) throws Exception {
            images = Fixtures.images();
            registry = RealRegistry.withBasicAuth(dir);
            registry.push("oci:" + images.layout() + ":extra", "team/extra:1.0", false);
        }

        @AfterAll
        void stop() {
            if (registry != null) {
                registry.close();
            }
        }

        ImageReference ref() {
            return ImageReference.parse(registry.authority() + "/team/extra:1.0");
        }

        @Test
        void pullWithBasicCredentials() {
            ImageRecord image = puller(registry, GOOD).pull(ref(), PullListener.NONE);
            assertEquals(images.extra().digest(), image.manifestDigest());
            assertTrue(Files.exists(store.blobPath(images.extraLayer().digest())));
        }

        @Test
        void wrongPasswordIsAClearError() {
            var e = assertThrows(ImageException.class,
                    () -> puller(registry, BAD).pull(ref(), PullListener.NONE));
            assertTrue(e.getMessage().contains("rejected the credentials of 'boxlite'"),
                    e.getMessage());
            assertTrue(store.list().isEmpty());
        }

        @Test
        void missingCredentialsAreAClearError() {
            var e = assertThrows(ImageException.class,
                    () -> puller(registry, null).pull(ref(), PullListener.NONE));
            assertTrue(e.getMessage().contains("requires a username and password"), e.getMessage());
        }
    }
}
