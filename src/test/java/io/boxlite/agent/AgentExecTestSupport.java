package io.boxlite.agent;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.time.Duration;

final class AgentExecTestSupport {
    private AgentExecTestSupport() {
    }

    /** Runs a command without stdin and returns its stdout, failing on a non-zero exit. */
    static String stdout(AgentClient client, String... argv) throws Exception {
        try (Execution e = client.exec(ExecRequest.builder(argv).build())) {
            e.stdin().close();
            String out = new String(e.stdout().readAllBytes(), UTF_8);
            ExecResult r = e.waitFor(Duration.ofSeconds(60)).orElseThrow();
            if (!r.success()) {
                throw new AssertionError(String.join(" ", argv) + " failed: " + r);
            }
            return out;
        }
    }
}
