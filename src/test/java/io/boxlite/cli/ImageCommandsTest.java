package io.boxlite.cli;

import io.boxlite.oci.fixtures.FakeRegistry;
import io.boxlite.oci.fixtures.Fixtures;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageCommandsTest {
    @TempDir
    Path tmp;

    private record Run(int status, String out, String err) {
    }

    private Run run(String... args) {
        var out = new StringWriter();
        var err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true),
                Map.of("BOXLITE_HOME", tmp.resolve("home").toString()),
                () -> { throw new AssertionError("no probe needed"); });
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void pullImagesAndRmiWorkTogether() throws Exception {
        var images = Fixtures.images();
        try (var registry = new FakeRegistry(images.layout())
                .tag("test/busybox", "1.0", images.busybox())
                .tag("test/extra", "1.0", images.extra())) {
            String busybox = registry.authority() + "/test/busybox:1.0";
            Run pull = run("pull", busybox);
            assertEquals(0, pull.status(), pull.err());
            String layer = images.baseLayer().digest().shortHex();
            assertTrue(pull.out().contains(layer + ": Pulling fs layer"), pull.out());
            assertTrue(pull.out().contains(layer + ": Pull complete"), pull.out());
            assertTrue(pull.out().contains("Digest: " + images.busybox().digest()), pull.out());
            assertTrue(pull.out().strip().endsWith(busybox), pull.out());

            Run quiet = run("pull", "-q", registry.authority() + "/test/extra:1.0");
            assertEquals(registry.authority() + "/test/extra:1.0\n", quiet.out());

            Run list = run("images");
            assertEquals(0, list.status(), list.err());
            String[] lines = list.out().strip().split("\n");
            assertEquals(3, lines.length, list.out());
            assertTrue(lines[0].matches("REPOSITORY +TAG +IMAGE ID +PULLED +SIZE"), lines[0]);
            assertTrue(lines[1].matches(registry.authority().replace(".", "\\.")
                    + "/test/busybox +1\\.0 +" + images.busybox().digest().shortHex()
                    + " +Less than a minute ago +1\\.03MB"), lines[1]);

            Run rmi = run("rmi", registry.authority() + "/test/extra:1.0");
            assertEquals(0, rmi.status(), rmi.err());
            assertTrue(rmi.out().contains("Untagged: " + registry.authority() + "/test/extra:1.0"));
            assertTrue(rmi.out().contains("Deleted: " + images.extraLayer().digest()), rmi.out());
            assertFalse(rmi.out().contains("Deleted: " + images.baseLayer().digest()),
                    "the base layer is still used by busybox: " + rmi.out());
            assertTrue(Files.exists(tmp.resolve("home/images/blobs/sha256")
                    .resolve(images.baseLayer().digest().hex())));
            assertEquals(2, run("images").out().strip().split("\n").length);
        }
    }

    @Test
    void errorsExitWith125AndSayWhatIsWrong() {
        Run bad = run("pull", "Not/Valid");
        assertEquals(Main.EXIT_RUNTIME_ERROR, bad.status());
        assertTrue(bad.err().contains("Invalid image reference 'Not/Valid'"), bad.err());

        Run missing = run("rmi", "nothing:here");
        assertEquals(Main.EXIT_RUNTIME_ERROR, missing.status());
        assertTrue(missing.err().contains("No such image: docker.io/library/nothing:here"),
                missing.err());
    }

    @Test
    void insecureRegistryFlagMakesANonLoopbackRegistryPlainHttp() {
        // why: .invalid never resolves, so the error names the URL that was tried
        Run r = run("pull", "--insecure-registry", "registry.invalid:5000",
                "registry.invalid:5000/x:1");
        assertEquals(Main.EXIT_RUNTIME_ERROR, r.status());
        assertTrue(r.err().contains("Cannot reach registry http://registry.invalid:5000"), r.err());
        assertTrue(r.err().contains("host registry.invalid is not found"), r.err());
    }

}
