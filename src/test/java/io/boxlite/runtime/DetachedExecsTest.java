package io.boxlite.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.NotFoundException;
import io.boxlite.Options;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.agent.GuestAgentException;
import io.boxlite.agent.GuestConnector;
import io.boxlite.agent.TtySize;
import io.boxlite.home.BoxliteHome;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Background commands ({@code exec -d}) on the guest agent run as a host process, and the host
 * protocol's {@code EXEC} between a client and a host server: no VM needed.
 */
class DetachedExecsTest {
    @TempDir
    static Path dir;
    static Process agentProcess;
    static Path agentSocket;
    static AgentClient agent;
    static Path boxDir;
    static DetachedExecs execs;

    @BeforeAll
    static void startAnAgentOnTheHost() throws Exception {
        Path binary = GuestAgentBinary.install(dir.resolve("bin"));
        agentSocket = dir.resolve("agent.sock");
        agentProcess = new ProcessBuilder(binary.toString(), "--listen", "unix:" + agentSocket)
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile()).start();
        for (int i = 0; i < 1000 && !Files.exists(agentSocket); i++) {
            Thread.sleep(10);
        }
        assertTrue(Files.exists(agentSocket), "the agent listens");
        agent = AgentClient.connect(unixSocket(agentSocket), AgentClient.DEFAULT_PORT, Duration.ofSeconds(10));
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir.resolve("home")).build()).open();
        boxDir = home.root().resolve("boxes").resolve(Ulid.next());
        Files.createDirectories(boxDir.resolve("logs"));
        execs = new DetachedExecs(boxDir, home.staging());
    }

    @AfterAll
    static void stopTheAgent() throws Exception {
        agent.close();
        agentProcess.destroy();
        if (!agentProcess.waitFor(10, TimeUnit.SECONDS)) {
            agentProcess.destroyForcibly().waitFor();
        }
    }

    private static GuestConnector unixSocket(Path socket) {
        return port -> {
            SocketChannel c = SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
            c.connect(java.net.UnixDomainSocketAddress.of(socket));
            return c;
        };
    }

    private static JsonNode awaitEnd(DetachedExec e) throws Exception {
        for (int i = 0; i < 300; i++) {
            JsonNode n = BoxJson.MAPPER.readTree(Files.readAllBytes(e.status()));
            if (!n.path("state").asText().equals("running")) {
                return n;
            }
            Thread.sleep(50);
        }
        fail("exec " + e.execId() + " did not end");
        return null;
    }

    @Test
    void outputGoesToTheExecsLogAndItsEndToItsStatusFile() throws Exception {
        DetachedExec e = execs.start(agent, ExecRequest.builder("sh", "-c", "echo out; echo err >&2; exit 3").build());
        assertTrue(Ulid.isUlid(e.execId()));
        assertTrue(e.pid() > 0);
        assertEquals(DetachedExec.log(boxDir, e.execId()), e.log());
        JsonNode end = awaitEnd(e);
        assertEquals("exited", end.path("state").asText());
        assertEquals(3, end.path("exit_code").asInt());
        assertEquals(e.execId(), end.path("exec_id").asText());
        assertEquals(List.of("sh", "-c", "echo out; echo err >&2; exit 3"),
                BoxJson.MAPPER.convertValue(end.path("argv"), List.class));
        String log = Files.readString(e.log());
        assertTrue(log.contains("out\n") && log.contains("err\n"), log);
    }

    @Test
    void theCommandReadsEndOfFileAtOnce() throws Exception {
        DetachedExec e = execs.start(agent, ExecRequest.builder("sh", "-c", "cat; echo after-eof").build());
        assertEquals(0, awaitEnd(e).path("exit_code").asInt());
        assertEquals("after-eof\n", Files.readString(e.log()));
    }

    @Test
    void theCommandKeepsRunningAfterItsStarterReturnedAndEndsWhenItsChannelDies() throws Exception {
        try (AgentClient own = AgentClient.connect(unixSocket(agentSocket), AgentClient.DEFAULT_PORT,
                Duration.ofSeconds(10))) {
            DetachedExec e = execs.start(own, ExecRequest.builder("sh", "-c", "echo started; sleep 600").build());
            Thread.sleep(300);
            assertEquals("running", BoxJson.MAPPER.readTree(Files.readAllBytes(e.status())).path("state").asText());
            assertEquals("started\n", Files.readString(e.log()));
            own.close(); // what a stopping box does to its channels
            JsonNode end = awaitEnd(e);
            assertNotEquals("running", end.path("state").asText());
        }
    }

    @Test
    void aCommandThatCannotStartLeavesNoLogBehind() throws Exception {
        long before;
        try (var files = Files.list(boxDir.resolve("logs"))) {
            before = files.count();
        }
        GuestAgentException e = assertThrows(GuestAgentException.class,
                () -> execs.start(agent, ExecRequest.builder("no-such-command-here").build()));
        assertTrue(e.notFound(), e.getMessage());
        try (var files = Files.list(boxDir.resolve("logs"))) {
            assertEquals(before, files.count());
        }
    }

    @Test
    void theHostProtocolCarriesTheRequestAndTheOutcomeBothWays() throws Exception {
        AtomicReference<ExecRequest> seen = new AtomicReference<>();
        AtomicReference<RuntimeException> failWith = new AtomicReference<>();
        Path socket = dir.resolve("box.sock");
        try (HostServer server = HostServer.listen(socket, new HostServer.Handler() {
            @Override
            public GuestConnector connector() {
                return port -> {
                    throw new IOException("no guest here");
                };
            }

            @Override
            public String statusJson() {
                return "{}";
            }

            @Override
            public void stop(Duration grace) {
            }

            @Override
            public DetachedExec execDetached(ExecRequest request) {
                seen.set(request);
                if (failWith.get() != null) {
                    throw failWith.get();
                }
                String id = Ulid.next();
                return new DetachedExec(id, 42, DetachedExec.log(boxDir, id), DetachedExec.status(boxDir, id));
            }
        })) {
            HostClient client = new HostClient(socket);
            ExecRequest request = new ExecRequest(List.of("sh", "-c", "echo ünïcode"), List.of("A=1", "B=x=y"), "/tmp",
                    "1000:1000", Optional.of(new TtySize(30, 100)), Duration.ofSeconds(7));
            DetachedExec started = client.execDetached(request, boxDir);
            assertEquals(request, seen.get());
            assertEquals(42, started.pid());
            assertEquals(DetachedExec.status(boxDir, started.execId()), started.status());

            failWith.set(new NotFoundException("Cannot start 'x': not found"));
            NotFoundException nf = assertThrows(NotFoundException.class, () -> client.execDetached(request, boxDir));
            assertEquals("Cannot start 'x': not found", nf.getMessage());
            failWith.set(new BoxliteException(ErrorCode.EXECUTION, "Permission denied"));
            assertEquals(ErrorCode.EXECUTION, assertThrows(BoxliteException.class,
                    () -> client.execDetached(request, boxDir)).code());
        }
    }

    @Test
    void malformedExecRequestsAreRefusedNamingTheField() {
        byte[] good = ExecRequestJson.encode(ExecRequest.builder("true").build());
        assertEquals(List.of("true"), ExecRequestJson.decode(good).argv());
        String[][] bad = {
                {"[]", "not a JSON object"},
                {"{", "not JSON"},
                {"{\"argv\":\"sh\",\"env\":[],\"working_dir\":\"\",\"user\":\"\",\"timeout_ms\":0}", "argv"},
                {"{\"argv\":[\"sh\"],\"env\":[1],\"working_dir\":\"\",\"user\":\"\",\"timeout_ms\":0}", "env"},
                {"{\"argv\":[\"sh\"],\"env\":[],\"user\":\"\",\"timeout_ms\":0}", "working_dir"},
                {"{\"argv\":[\"sh\"],\"env\":[],\"working_dir\":\"\",\"user\":\"\",\"timeout_ms\":\"1\"}", "timeout_ms"},
                {"{\"argv\":[\"sh\"],\"env\":[],\"working_dir\":\"\",\"user\":\"\",\"timeout_ms\":0,\"tty\":{\"rows\":1}}",
                        "tty.cols"},
                {"{\"argv\":[],\"env\":[],\"working_dir\":\"\",\"user\":\"\",\"timeout_ms\":0}", "program name"},
                {"{\"argv\":[\"sh\"],\"env\":[\"NOEQUALS\"],\"working_dir\":\"\",\"user\":\"\",\"timeout_ms\":0}",
                        "KEY=VALUE"},
        };
        for (String[] b : bad) {
            BoxliteException e = assertThrows(BoxliteException.class,
                    () -> ExecRequestJson.decode(b[0].getBytes(StandardCharsets.UTF_8)), b[0]);
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), b[0]);
            assertTrue(e.getMessage().contains(b[1]), e.getMessage());
        }
    }
}
