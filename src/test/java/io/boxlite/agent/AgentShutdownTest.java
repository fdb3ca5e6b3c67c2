package io.boxlite.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.BoxliteException;
import io.boxlite.InvalidArgumentException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shutdown of an agent that is not PID 1: it syncs, acknowledges and exits, ending its execs. */
class AgentShutdownTest {

    @Test
    void shutdownAcknowledgesAndStopsTheAgentAndItsCommands(@TempDir Path dir) throws Exception {
        try (LocalAgent agent = LocalAgent.start(dir); AgentClient client = agent.client()) {
            Execution running = client.exec(ExecRequest.builder("sleep", "100").build());
            long pid = running.pid();
            assertThrows(InvalidArgumentException.class, () -> client.shutdown(ShutdownAction.POWER_OFF,
                    Duration.ofMinutes(11)));

            client.shutdown(ShutdownAction.POWER_OFF, Duration.ZERO);

            assertTrue(agent.process.waitFor(10, TimeUnit.SECONDS), "the agent exits after SHUTDOWN");
            assertEquals(0, agent.process.exitValue());
            assertThrows(BoxliteException.class, running::waitFor, "the command's channel is gone");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (ProcessHandle.of(pid).isPresent() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(ProcessHandle.of(pid).isEmpty(), "sleep was killed with its channel");
            assertThrows(BoxliteException.class, client::ping, "nobody listens any more");
        }
    }
}
