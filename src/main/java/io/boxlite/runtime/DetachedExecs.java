package io.boxlite.runtime;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.StorageException;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.ExecResult;
import io.boxlite.agent.Execution;
import io.boxlite.home.Staging;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The background commands ({@code exec -d}) of one box, owned by its host: each keeps its agent
 * channel open (the agent ends a command whose channel closes) with stdin at end-of-file, its
 * output appended to {@code logs/exec-{id}.log} and its state in {@code logs/exec-{id}.json},
 * rewritten atomically when it starts and when it ends.
 */
final class DetachedExecs {
    private static final System.Logger LOG = System.getLogger(DetachedExecs.class.getName());
    /** Each holds an agent channel (the agent allows 1024); the rest stay for execs and copies. */
    static final int MAX_RUNNING = 256;

    private final Path boxDir;
    private final Staging staging;
    private final Set<Execution> running = ConcurrentHashMap.newKeySet();

    DetachedExecs(Path boxDir, Staging staging) {
        this.boxDir = boxDir;
        this.staging = staging;
    }

    /**
     * Starts {@code request} through {@code agent} and returns once the guest reported its pid.
     *
     * @throws BoxliteException ({@link ErrorCode#RESOURCE_EXHAUSTED}) with {@value #MAX_RUNNING} running
     * @throws io.boxlite.agent.GuestAgentException if the guest cannot start it
     */
    DetachedExec start(AgentClient agent, ExecRequest request) {
        if (running.size() >= MAX_RUNNING) {
            throw new BoxliteException(ErrorCode.RESOURCE_EXHAUSTED, "The box already runs " + MAX_RUNNING
                    + " background commands; wait for some to end");
        }
        String id = Ulid.next();
        Instant started = Instant.now();
        Path log = DetachedExec.log(boxDir, id);
        Path status = DetachedExec.status(boxDir, id);
        LogSink out = LogSink.open(log, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        Execution exec;
        try {
            exec = agent.exec(request, out);
        } catch (RuntimeException e) {
            out.close();
            deleteQuietly(log);
            throw e;
        }
        running.add(exec);
        try {
            exec.stdin().close(); // why: like Docker's exec -d, the command reads end-of-file
            ObjectNode n = record(id, request, exec.pid(), started);
            n.put("state", "running");
            staging.writeAtomically(status, bytes(n));
        } catch (IOException | RuntimeException e) {
            exec.close();
            running.remove(exec);
            out.close();
            throw e instanceof RuntimeException r ? r : new StorageException("Cannot start the background command: "
                    + e.getMessage(), e);
        }
        exec.onExit().whenComplete((result, failure) -> {
            running.remove(exec);
            out.close();
            ended(status, record(id, request, exec.pid(), started), result, failure);
        });
        return new DetachedExec(id, exec.pid(), log, status);
    }

    private static ObjectNode record(String id, ExecRequest request, long pid, Instant started) {
        ObjectNode n = BoxJson.MAPPER.createObjectNode();
        n.put("exec_id", id);
        ArrayNode argv = n.putArray("argv");
        request.argv().forEach(argv::add);
        n.put("pid", pid);
        n.put("started_at", started.toString());
        return n;
    }

    private void ended(Path status, ObjectNode n, ExecResult result, Throwable failure) {
        if (result != null) {
            n.put("state", "exited");
            n.put("exit_code", result.exitCode());
            n.put("signal", result.signal());
            n.put("timed_out", result.timedOut());
            n.put("duration_ms", result.duration().toMillis());
        } else {
            // why: the channel broke, which happens when the box stops under the command
            n.put("state", "lost");
            n.put("error", failure == null ? "unknown" : String.valueOf(failure.getMessage()));
        }
        n.put("ended_at", Instant.now().toString());
        if (!Files.isDirectory(status.getParent())) {
            return; // the box was removed
        }
        try {
            staging.writeAtomically(status, bytes(n));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "Cannot record the end of background command {0}: {1}",
                    n.path("exec_id").asText(), e.getMessage());
        }
    }

    /** How many are running. */
    int running() {
        return running.size();
    }

    private static byte[] bytes(ObjectNode n) {
        return (n.toString() + "\n").getBytes(StandardCharsets.UTF_8);
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "Cannot delete {0}: {1}", file, e.getMessage());
        }
    }
}
