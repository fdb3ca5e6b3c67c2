package io.boxlite.oci.registry;

import io.boxlite.NotFoundException;
import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageConfig;
import io.boxlite.oci.ImageException;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.RetryPolicy;
import io.boxlite.oci.fixtures.FakeRegistry;
import io.boxlite.oci.fixtures.Fixtures;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImagePullerTest {
    private static final RetryPolicy FAST = new RetryPolicy(3, Duration.ofMillis(10),
            Duration.ofMillis(50));

    @TempDir
    Path tmp;

    private Fixtures.Images images;
    private FakeRegistry registry;
    private ImageStore store;

    @BeforeEach
    void setUp() throws IOException {
        images = Fixtures.images();
        registry = new FakeRegistry(images.layout())
                .tag("test/busybox", "1.0", images.busybox())
                .tag("test/extra", "1.0", images.extra())
                .tag("test/multi", "1.0", images.multi());
        store = ImageStore.open(home("home"));
    }

    @AfterEach
    void tearDown() {
        store.close();
        registry.close();
    }

    private BoxliteHome home(String name) {
        return BoxliteHome.resolve(Options.builder().home(tmp.resolve(name)).build());
    }

    private ImagePuller puller(RegistryOptions.Builder options) {
        return new ImagePuller(store, options.retry(FAST).build());
    }

    private ImagePuller puller() {
        return puller(RegistryOptions.builder());
    }

    private ImageReference ref(String repoAndTag) {
        return ImageReference.parse(registry.authority() + "/" + repoAndTag);
    }

    @Test
    void pullByTagStoresManifestConfigAndLayerAndTagsTheCanonicalReference() {
        ImageRecord image = puller().pull(ref("test/busybox:1.0"), PullListener.NONE);

        assertEquals(registry.authority() + "/test/busybox:1.0", image.reference());
        assertEquals(images.busybox().digest(), image.manifestDigest());
        assertEquals(List.of(images.baseLayer().digest()),
                image.layers().stream().map(d -> d.digest()).toList());
        for (Digest blob : List.of(images.busybox().digest(), image.configDigest(),
                images.baseLayer().digest())) {
            assertTrue(store.hasBlob(blob), blob + " stored");
        }
        ImageConfig config = store.config(image);
        assertEquals(List.of("sh"), config.cmd());
        assertTrue(config.env().contains("FIXTURE=1"));
        assertEquals(java.util.Set.of("8080/tcp"), config.exposedPorts());
        assertEquals(Optional.of("0:0"), config.user());
        assertEquals(image, store.find(registry.authority() + "/test/busybox:1.0").orElseThrow());
    }

    @Test
    void pullByDigestChecksTheManifestAgainstTheDigestAskedFor() {
        ImageRecord image = puller().pull(ImageReference.parse(registry.authority()
                + "/test/busybox@" + images.busybox().digest()), PullListener.NONE);
        assertEquals(images.busybox().digest(), image.manifestDigest());
        assertTrue(image.reference().endsWith("@" + images.busybox().digest()));
    }

    @Test
    void indexResolvesToThisPlatformAndSkipsTheAttestationListedFirst() {
        ImageRecord amd = puller(RegistryOptions.builder().platform(Platform.of("linux", "amd64")))
                .pull(ref("test/multi:1.0"), PullListener.NONE);
        assertEquals(images.busybox().digest(), amd.manifestDigest());
        assertEquals(Optional.of(images.multi().digest()), amd.indexDigest());
        assertEquals(0, registry.requests().stream().filter(r -> r.path()
                .endsWith(images.attestation().digest().toString())).count());

        ImageRecord arm = puller(RegistryOptions.builder().platform(Platform.linuxFor("aarch64")))
                .pull(ref("test/multi:1.0"), PullListener.NONE);
        assertEquals(images.arm64().digest(), arm.manifestDigest());
    }

    @Test
    void indexWithoutThisPlatformNamesWhatItOffersButNotTheAttestation() {
        var e = assertThrows(ImageException.class, () -> puller(RegistryOptions.builder()
                .platform(Platform.of("linux", "s390x"))).pull(ref("test/multi:1.0"),
                PullListener.NONE));
        assertTrue(e.getMessage().contains("linux/s390x"), e.getMessage());
        assertTrue(e.getMessage().contains("linux/arm64/v8, linux/amd64"), e.getMessage());
        assertFalse(e.getMessage().contains("unknown"), e.getMessage());
    }

    @Test
    void corruptedBlobIsAClearErrorAndNothingIsCached() {
        registry.corrupt(images.baseLayer().digest(), new byte[(int) images.baseLayer().size()]);
        var e = assertThrows(ImageException.class,
                () -> puller().pull(ref("test/busybox:1.0"), PullListener.NONE));
        assertTrue(e.getMessage().contains("is corrupt"), e.getMessage());
        assertTrue(e.getMessage().contains(images.baseLayer().digest().toString()), e.getMessage());
        assertFalse(store.hasBlob(images.baseLayer().digest()));
        assertFalse(Files.exists(store.ingest().partialFile(images.baseLayer().digest())));
        assertTrue(store.list().isEmpty());
    }

    @Test
    void manifestWhoseDockerContentDigestDisagreesIsRefused() {
        registry.wrongContentDigest(images.extra().digest());
        var e = assertThrows(ImageException.class,
                () -> puller().pull(ref("test/busybox:1.0"), PullListener.NONE));
        assertTrue(e.getMessage().contains("registry says " + images.extra().digest()),
                e.getMessage());
        assertTrue(store.list().isEmpty());
    }

    @Test
    void unknownTagIsNotFound() {
        var e = assertThrows(NotFoundException.class,
                () -> puller().pull(ref("test/busybox:nope"), PullListener.NONE));
        assertTrue(e.getMessage().contains("manifest unknown"), e.getMessage());
    }

    @Test
    void redirectToAnotherHostDropsTheAuthorizationHeader() throws IOException {
        String auth = "Basic " + Base64.getEncoder().encodeToString("u:p".getBytes());
        try (var cdn = new FakeRegistry(images.layout())) {
            // why: "localhost" vs "127.0.0.1" and another port: another host for the client
            registry.requireAuthorization(auth).redirectBlobsTo("http://localhost:"
                    + cdn.authority().split(":")[1]);
            ImageRecord image = puller(RegistryOptions.builder()
                    .credentials(registry.authority(), new Credentials.Basic("u", "p")))
                    .pull(ref("test/busybox:1.0"), PullListener.NONE);

            assertEquals(images.busybox().digest(), image.manifestDigest());
            assertEquals(1, cdn.blobGets(images.baseLayer().digest()));
            for (FakeRegistry.Request r : cdn.requests()) {
                assertNull(r.header("Authorization"), "Authorization leaked to " + r.path());
            }
            assertTrue(registry.requests().stream().filter(r -> r.path().contains("/blobs/"))
                    .allMatch(r -> auth.equals(r.header("Authorization"))));
        }
    }

    @Test
    void twoImagesSharingABaseLayerStoreAndDownloadItOnce() {
        puller().pull(ref("test/busybox:1.0"), PullListener.NONE);
        var present = new CopyOnWriteArrayList<Digest>();
        ImageRecord extra = puller().pull(ref("test/extra:1.0"), new PullListener() {
            @Override
            public void blobDone(Digest blob, boolean alreadyPresent) {
                if (alreadyPresent) {
                    present.add(blob);
                }
            }
        });
        assertEquals(2, extra.layers().size());
        assertEquals(List.of(images.baseLayer().digest()), List.copyOf(present));
        assertEquals(1, registry.blobGets(images.baseLayer().digest()));
        assertEquals(1, registry.blobGets(images.extraLayer().digest()));
    }

    @Test
    void concurrentPullsOfOneImageDownloadEachBlobOnce() throws Exception {
        registry.blobDelay(300);
        try (var second = ImageStore.open(home("home"));
             var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            var pullers = List.of(puller(), new ImagePuller(second,
                    RegistryOptions.builder().retry(FAST).build()), puller());
            var futures = new ArrayList<Future<ImageRecord>>();
            for (ImagePuller p : pullers) {
                futures.add(pool.submit(() -> p.pull(ref("test/extra:1.0"), PullListener.NONE)));
            }
            for (Future<ImageRecord> f : futures) {
                assertEquals(images.extra().digest(), f.get(60, TimeUnit.SECONDS).manifestDigest());
            }
        }
        assertEquals(1, registry.blobGets(images.baseLayer().digest()));
        assertEquals(1, registry.blobGets(images.extraLayer().digest()));
    }

    @Test
    void concurrentPullsInTwoProcessesSharingAHomeDownloadEachBlobOnce() throws Exception {
        registry.blobDelay(1500);
        Path homeDir = tmp.resolve("home");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), PullMain.class.getName(),
                homeDir.toString(), ref("test/extra:1.0").toString())
                .redirectErrorStream(true).start();
        ImageRecord mine = puller().pull(ref("test/extra:1.0"), PullListener.NONE);
        String output = new String(child.getInputStream().readAllBytes());
        assertTrue(child.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, child.exitValue(), output);
        assertTrue(output.contains(images.extra().digest().toString()), output);
        assertEquals(images.extra().digest(), mine.manifestDigest());
        assertEquals(1, registry.blobGets(images.baseLayer().digest()));
        assertEquals(1, registry.blobGets(images.extraLayer().digest()));
    }

    @Test
    void interruptedDownloadResumesWithARangeRequestAndVerifiesTheWholeBlob() {
        long cut = images.baseLayer().size() / 3;
        registry.cutAfter(images.baseLayer().digest(), cut);
        var progress = new ConcurrentHashMap<Digest, Long>();
        ImageRecord image = puller().pull(ref("test/busybox:1.0"), new PullListener() {
            @Override
            public void progress(Digest blob, long done, long total) {
                progress.merge(blob, done, Math::max);
            }
        });
        assertEquals(images.busybox().digest(), image.manifestDigest());
        var gets = registry.requests().stream()
                .filter(r -> r.path().endsWith("/blobs/" + images.baseLayer().digest())).toList();
        assertEquals(2, gets.size());
        assertNull(gets.get(0).header("Range"));
        String range = gets.get(1).header("Range");
        assertTrue(range != null && range.matches("bytes=\\d+-"), range);
        long from = Long.parseLong(range.substring(6, range.length() - 1));
        assertTrue(from > 0 && from <= cut, range);
        assertEquals(images.baseLayer().size(), progress.get(images.baseLayer().digest()));
        assertTrue(store.hasBlob(images.baseLayer().digest()));
    }

    @Test
    void aFailedPullKeepsThePartialBlobAndTheNextPullResumesIt() throws IOException {
        long cut = images.baseLayer().size() / 2;
        registry.cutAfter(images.baseLayer().digest(), cut);
        var once = new RetryPolicy(1, Duration.ZERO, Duration.ZERO);
        var e = assertThrows(ImageException.class, () -> new ImagePuller(store,
                RegistryOptions.builder().retry(once).build())
                .pull(ref("test/busybox:1.0"), PullListener.NONE));
        assertTrue(e.getMessage().contains("next pull resumes"), e.getMessage());
        long kept = Files.size(store.ingest().partialFile(images.baseLayer().digest()));
        assertTrue(kept > 0 && kept <= cut, "kept " + kept);

        puller().pull(ref("test/busybox:1.0"), PullListener.NONE);
        var gets = registry.requests().stream()
                .filter(r -> r.path().endsWith("/blobs/" + images.baseLayer().digest())).toList();
        assertEquals("bytes=" + kept + "-", gets.getLast().header("Range"));
        assertFalse(Files.exists(store.ingest().partialFile(images.baseLayer().digest())));
    }

    @Test
    void registryThatIgnoresRangeStillYieldsTheRightBlob() {
        registry.cutAfter(images.baseLayer().digest(), 1000).ignoreRange();
        puller().pull(ref("test/busybox:1.0"), PullListener.NONE);
        assertTrue(store.hasBlob(images.baseLayer().digest()));
    }

    @Test
    void transientServerErrorsAreRetriedWithBackoff() {
        registry.fail(2, 503);
        ImageRecord image = puller().pull(ref("test/busybox:1.0"), PullListener.NONE);
        assertEquals(images.busybox().digest(), image.manifestDigest());
    }

    @Test
    void persistentServerErrorsGiveUpAfterTheConfiguredAttempts() {
        registry.fail(100, 500);
        var e = assertThrows(ImageException.class,
                () -> puller().pull(ref("test/busybox:1.0"), PullListener.NONE));
        assertTrue(e.getMessage().contains("HTTP 500"), e.getMessage());
        assertEquals(FAST.maxAttempts(), registry.requests().size());
    }

    @Test
    void unreachableRegistryIsAClearError() {
        registry.close();
        var e = assertThrows(ImageException.class,
                () -> puller().pull(ref("test/busybox:1.0"), PullListener.NONE));
        assertTrue(e.getMessage().contains("Cannot reach registry http://" + registry.authority()),
                e.getMessage());
    }

    @Test
    void basicAuthWithoutCredentialsSaysCredentialsAreNeeded() {
        registry.requireAuthorization("Basic eDp5");
        var e = assertThrows(ImageException.class,
                () -> puller().pull(ref("test/busybox:1.0"), PullListener.NONE));
        assertTrue(e.getMessage().contains("requires a username and password"), e.getMessage());
    }

    @Test
    void staticBearerTokenIsSentAsIs() {
        registry.requireAuthorization("Bearer s3cr3t");
        ImageRecord image = puller(RegistryOptions.builder().credentials(registry.authority(),
                new Credentials.BearerToken("s3cr3t"))).pull(ref("test/busybox:1.0"),
                PullListener.NONE);
        assertEquals(images.busybox().digest(), image.manifestDigest());
    }

    @Test
    void nonLoopbackRegistriesUseHttpsUnlessMarkedInsecure() {
        var options = RegistryOptions.builder().insecureRegistry("lan-cache:5000").build();
        assertTrue(options.plainHttp("localhost:5000"));
        assertTrue(options.plainHttp("127.9.8.7"));
        assertTrue(options.plainHttp("[::1]:5000"));
        assertTrue(options.plainHttp("lan-cache:5000"));
        assertFalse(options.plainHttp("lan-cache:5001"));
        assertFalse(options.plainHttp("registry.example"));
        assertFalse(options.plainHttp("128.0.0.1:5000"));
    }

    /** The other process of the cross-process test: pulls one image into a home. */
    public static final class PullMain {
        public static void main(String[] args) {
            var home = BoxliteHome.resolve(Options.builder().home(Path.of(args[0])).build());
            try (var store = ImageStore.open(home)) {
                ImageRecord image = new ImagePuller(store, RegistryOptions.defaults())
                        .pull(ImageReference.parse(args[1]), PullListener.NONE);
                System.out.println("pulled " + image.manifestDigest());
            }
        }
    }
}
