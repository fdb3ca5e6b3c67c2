package io.boxlite.bench;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** What the harness mains share: a median/min–max line, a local registry wait, a checked command. */
final class BenchSupport {
    private BenchSupport() {
    }

    /** {@code name  median …  min …  max …  (n=…)}; the median of an even count is the mean of the middle two. */
    static String summary(String name, List<Double> samples) {
        double[] s = samples.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double median = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        return String.format(Locale.ROOT, "%s  median %8.1f  min %8.1f  max %8.1f  (n=%d)",
                name, median, s[0], s[s.length - 1], s.length)
                + (Arrays.stream(s).anyMatch(Double::isNaN) ? " NaN!" : "");
    }

    /** Waits up to 30 s for a registry on 127.0.0.1:{@code port} to answer {@code /v2/}. */
    static void waitForRegistry(int port) throws Exception {
        for (int i = 0; i < 300; i++) {
            try {
                var c = (HttpURLConnection) URI.create("http://127.0.0.1:" + port + "/v2/").toURL().openConnection();
                if (c.getResponseCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("docker-registry did not start");
    }

    /** Runs a command, failing with its output if it exits non-zero. */
    static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed:\n" + new String(out, StandardCharsets.UTF_8));
        }
    }
}
