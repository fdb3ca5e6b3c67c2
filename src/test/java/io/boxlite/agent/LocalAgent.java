package io.boxlite.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The guest agent run as a normal process on the host, serving a Unix socket in a temp dir. */
final class LocalAgent implements AutoCloseable {
    final Path dir;
    final Path socket;
    final Path log;
    final Process process;

    private LocalAgent(Path dir, Path socket, Path log, Process process) {
        this.dir = dir;
        this.socket = socket;
        this.log = log;
        this.process = process;
    }

    static LocalAgent start(Path dir) throws IOException, InterruptedException {
        Path binary = GuestAgentBinary.install(dir.resolve("bin"));
        Path socket = dir.resolve("agent.sock");
        Path log = dir.resolve("agent.log");
        Process p = new ProcessBuilder(List.of(binary.toString(), "--listen", "unix:" + socket))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(socket)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IllegalStateException("The agent did not start listening: " + Files.readString(log));
            }
            Thread.sleep(10);
        }
        return new LocalAgent(dir, socket, log, p);
    }

    GuestConnector connector() {
        return GuestConnector.unixSocket(socket);
    }

    AgentClient client() {
        return AgentClient.connect(connector(), AgentClient.DEFAULT_PORT, Duration.ofSeconds(10));
    }

    String logText() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy(); // SIGTERM: the agent stops its channels and exits
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
