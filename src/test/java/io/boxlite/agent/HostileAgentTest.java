package io.boxlite.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.UnsupportedException;
import io.boxlite.agent.protocol.AgentProtocolException;
import io.boxlite.agent.protocol.Frame;
import io.boxlite.agent.protocol.FrameReader;
import io.boxlite.agent.protocol.FrameType;
import io.boxlite.agent.protocol.FrameWriter;
import io.boxlite.agent.protocol.PayloadWriter;
import io.boxlite.agent.protocol.StreamId;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A scripted fake agent that misbehaves: the host must fail only the channel it misbehaves on. */
class HostileAgentTest {

    interface Script {
        void serve(int index, SocketChannel ch, FrameReader in, FrameWriter out) throws Exception;
    }

    static final class FakeAgent implements AutoCloseable {
        final ServerSocketChannel server;
        final Path path;
        final AtomicInteger accepted = new AtomicInteger();

        FakeAgent(Path dir, Script script) throws IOException {
            path = dir.resolve("fake.sock");
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(path));
            Thread.ofVirtual().start(() -> {
                while (server.isOpen()) {
                    try {
                        SocketChannel ch = server.accept();
                        int index = accepted.getAndIncrement();
                        Thread.ofVirtual().start(() -> {
                            try (ch) {
                                script.serve(index, ch, new FrameReader(ch), new FrameWriter(ch));
                            } catch (Exception ignored) {
                                // the host closed its side: expected in these tests
                            }
                        });
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        GuestConnector connector() {
            return GuestConnector.unixSocket(path);
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    static Frame hello(int major) {
        return Frame.of(FrameType.HELLO, new PayloadWriter().u16(major).u16(0).u32(31).u32(1 << 20)
                .u32(256 * 1024).string("fake-agent 9").toByteArray());
    }

    static void answerPing(FrameReader in, FrameWriter out) throws IOException {
        Frame ping = in.read();
        out.write(new Frame(FrameType.PONG, 0, ping.payload()));
    }

    static Frame started(long pid) {
        return Frame.of(FrameType.STARTED, new PayloadWriter().u32(pid).toByteArray());
    }

    @Test
    void refusesAnAgentOfAnotherMajorVersionClearly(@TempDir Path dir) throws Exception {
        try (FakeAgent fake = new FakeAgent(dir, (i, ch, in, out) -> out.write(hello(2)))) {
            UnsupportedException e = assertThrows(UnsupportedException.class,
                    () -> AgentClient.connect(fake.connector(), 1024));
            assertTrue(e.getMessage().contains("protocol 2.0") && e.getMessage().contains("1.x"), e.getMessage());
        }
    }

    @Test
    void anAgentThatNeverGreetsTimesOut(@TempDir Path dir) throws Exception {
        try (FakeAgent fake = new FakeAgent(dir, (i, ch, in, out) -> in.read())) {
            BoxliteException e = assertThrows(BoxliteException.class,
                    () -> AgentClient.connect(fake.connector(), 1024, Duration.ofMillis(300)));
            assertEquals(ErrorCode.RPC_TRANSPORT, e.code());
            assertTrue(e.getMessage().contains("did not greet"), e.getMessage());
        }
    }

    @Test
    void anOversizeFrameFailsItsExecAndClosesOnlyThatChannel(@TempDir Path dir) throws Exception {
        CompletableFuture<Boolean> hostClosedBadChannel = new CompletableFuture<>();
        Script script = (i, ch, in, out) -> {
            out.write(hello(1));
            Frame first = in.read();
            switch (first.type()) {
                case PING -> out.write(new Frame(FrameType.PONG, 0, first.payload()));
                case EXEC -> {
                    String argv0 = new String(first.payload(), UTF_8);
                    if (argv0.contains("bad")) {
                        out.write(started(42));
                        ch.write(ByteBuffer.allocate(8).putInt(0x7fffffff).put((byte) 0x12).put((byte) 2)
                                .putShort((short) 0).flip());
                        Frame f;
                        try {
                            while ((f = in.read()) != null) {
                                assertTrue(f.type() != null);
                            }
                            hostClosedBadChannel.complete(true);
                        } catch (IOException e) {
                            hostClosedBadChannel.complete(true);
                        }
                    } else {
                        out.write(started(43));
                        byte[] data = "fine\n".getBytes(UTF_8);
                        out.write(new Frame(FrameType.DATA, StreamId.STDOUT, data));
                        out.write(new Frame(FrameType.EOF, StreamId.STDOUT, new byte[0]));
                        out.write(new Frame(FrameType.EOF, StreamId.STDERR, new byte[0]));
                        out.write(Frame.of(FrameType.EXIT, new PayloadWriter().u8(0).u8(0).u16(0).u32(0).u64(1000)
                                .toByteArray()));
                    }
                }
                default -> throw new AssertionError(first.describe());
            }
        };
        try (FakeAgent fake = new FakeAgent(dir, script);
             AgentClient client = AgentClient.connect(fake.connector(), 1024)) {
            Execution bad = client.exec(ExecRequest.builder("bad").build());
            Execution good = client.exec(ExecRequest.builder("good").build());
            AgentProtocolException e = assertThrows(AgentProtocolException.class, bad::waitFor);
            assertTrue(e.getMessage().contains("exceeds"), e.getMessage());
            assertThrows(IOException.class, () -> bad.stdout().read());
            assertTrue(hostClosedBadChannel.get());
            assertEquals("fine\n", new String(good.stdout().readAllBytes(), UTF_8));
            assertEquals(0, good.waitFor().exitCode());
            assertTrue(client.ping().toNanos() > 0, "new channels still work");
        }
    }

    @Test
    void outputBeyondTheGrantedWindowIsAViolation(@TempDir Path dir) throws Exception {
        Script script = (i, ch, in, out) -> {
            out.write(hello(1));
            Frame first = in.read();
            if (first.type() == FrameType.PING) {
                out.write(new Frame(FrameType.PONG, 0, first.payload()));
                return;
            }
            out.write(started(7));
            byte[] chunk = new byte[32 * 1024];
            for (int k = 0; k < 9; k++) { // 288 KiB against a 256 KiB window nobody reads
                out.write(new Frame(FrameType.DATA, StreamId.STDOUT, chunk));
            }
            assertNull(in.read());
        };
        try (FakeAgent fake = new FakeAgent(dir, script);
             AgentClient client = AgentClient.connect(fake.connector(), 1024);
             Execution e = client.exec(ExecRequest.builder("x").build())) {
            AgentProtocolException ex = assertThrows(AgentProtocolException.class, e::waitFor);
            assertTrue(ex.getMessage().contains("window"), ex.getMessage());
        }
    }

    @Test
    void impossibleExitValuesAreRejected(@TempDir Path dir) throws Exception {
        Script script = (i, ch, in, out) -> {
            out.write(hello(1));
            Frame first = in.read();
            if (first.type() == FrameType.PING) {
                answerPingPayload(out, first);
                return;
            }
            out.write(started(8));
            out.write(new Frame(FrameType.EOF, StreamId.STDOUT, new byte[0]));
            out.write(new Frame(FrameType.EOF, StreamId.STDERR, new byte[0]));
            out.write(Frame.of(FrameType.EXIT, new PayloadWriter().u8(1).u8(0).u16(0).u32(99).u64(0).toByteArray()));
            in.read();
        };
        try (FakeAgent fake = new FakeAgent(dir, script);
             AgentClient client = AgentClient.connect(fake.connector(), 1024);
             Execution e = client.exec(ExecRequest.builder("x").build())) {
            AgentProtocolException ex = assertThrows(AgentProtocolException.class, e::waitFor);
            assertTrue(ex.getMessage().contains("signal 99"), ex.getMessage());
        }
    }

    private static void answerPingPayload(FrameWriter out, Frame ping) throws IOException {
        out.write(new Frame(FrameType.PONG, 0, ping.payload()));
    }
}
