package io.boxlite.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.agent.protocol.Frame;
import io.boxlite.agent.protocol.FrameReader;
import io.boxlite.agent.protocol.FrameType;
import io.boxlite.agent.protocol.Messages;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent answers malformed frames with ERROR and closes only the offending channel. */
class AgentMalformedFramesTest {

    @Test
    void theAgentSurvivesRandomAndMutatedFramesFromTheCFuzzer(@TempDir Path dir) throws Exception {
        Path fuzzer = Path.of("target/agent/frame-fuzz");
        assertTrue(Files.isExecutable(fuzzer), "the Maven build makes " + fuzzer);
        try (LocalAgent agent = LocalAgent.start(dir)) {
            Process p = new ProcessBuilder(fuzzer.toString(), agent.socket.toString(), "20240601", "400")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out + "\nagent log:\n" + agent.logText());
            assertTrue(agent.process.isAlive(), "the agent is still running");
        }
    }

    @Test
    void anOversizeFrameClosesOnlyItsChannel(@TempDir Path dir) throws Exception {
        try (LocalAgent agent = LocalAgent.start(dir); AgentClient client = agent.client();
             Execution bystander = client.exec(ExecRequest.builder("cat").build())) {
            try (ByteChannel raw = agent.connector().open(AgentClient.DEFAULT_PORT)) {
                FrameReader reader = new FrameReader(raw);
                assertEquals(FrameType.HELLO, reader.read().type());
                raw.write(ByteBuffer.allocate(8).putInt(64 << 20).put((byte) 0x10).put((byte) 0).putShort((short) 0)
                        .flip());
                Frame error = reader.read();
                Messages.ErrorReply reply = Messages.error(error);
                assertEquals(Messages.ErrorReply.BAD_FRAME, reply.code());
                assertTrue(reply.message().contains("1 MiB"), reply.message());
                assertNull(reader.read(), "the agent closed that channel");
            }
            // The exec on another channel still works, and so do new channels.
            bystander.stdin().write("still here\n".getBytes(UTF_8));
            bystander.stdin().close();
            assertEquals("still here\n", new String(bystander.stdout().readAllBytes(), UTF_8));
            assertEquals(0, bystander.waitFor(Duration.ofSeconds(30)).orElseThrow().exitCode());
            assertTrue(client.ping().toNanos() > 0);
        }
    }

    @Test
    void aFrameOutOfPlaceOnAnExecChannelKillsThatCommandOnly(@TempDir Path dir) throws Exception {
        try (LocalAgent agent = LocalAgent.start(dir); AgentClient client = agent.client()) {
            try (ByteChannel raw = agent.connector().open(AgentClient.DEFAULT_PORT)) {
                FrameReader reader = new FrameReader(raw);
                reader.read();
                byte[] exec = Messages.exec(0, 0, 0, 0, "", "", java.util.List.of("sleep", "100"), java.util.List.of());
                write(raw, FrameType.EXEC, 0, exec);
                long pid = Messages.started(reader.read());
                write(raw, FrameType.COPY_OUT, 0, Messages.copy(0, "/")); // not allowed mid-exec
                Frame f;
                Messages.ErrorReply reply = null;
                while ((f = reader.read()) != null) {
                    if (f.type() == FrameType.ERROR) {
                        reply = Messages.error(f);
                    }
                }
                assertTrue(reply != null && reply.message().contains("not allowed"), String.valueOf(reply));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (ProcessHandle.of(pid).isPresent() && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertTrue(ProcessHandle.of(pid).isEmpty(), "the command of the broken channel was killed");
            }
            assertEquals("ok\n", AgentExecTestSupport.stdout(client, "echo", "ok"));
        }
    }

    private static void write(ByteChannel ch, FrameType type, int stream, byte[] payload) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(8 + payload.length).putInt(payload.length).put((byte) type.code())
                .put((byte) stream).putShort((short) 0).put(payload).flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
