package io.boxlite.runtime;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.TtySize;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * An {@link ExecRequest} as JSON, the payload of the host protocol's {@code EXEC}: {@code argv},
 * {@code env} (KEY=VALUE), {@code working_dir}, {@code user}, {@code tty} ({@code rows},
 * {@code cols}) or null, {@code timeout_ms}. Decoding checks every field's type and hands the
 * values to {@link ExecRequest}, which enforces the agent's limits.
 */
final class ExecRequestJson {
    private ExecRequestJson() {
    }

    static byte[] encode(ExecRequest r) {
        ObjectNode n = BoxJson.MAPPER.createObjectNode();
        ArrayNode argv = n.putArray("argv");
        r.argv().forEach(argv::add);
        ArrayNode env = n.putArray("env");
        r.env().forEach(env::add);
        n.put("working_dir", r.workingDir());
        n.put("user", r.user());
        r.tty().ifPresentOrElse(t -> n.putObject("tty").put("rows", t.rows()).put("cols", t.cols()),
                () -> n.putNull("tty"));
        n.put("timeout_ms", r.timeout().toMillis());
        return n.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** @throws InvalidArgumentException naming the field that is missing or malformed */
    static ExecRequest decode(byte[] json) {
        JsonNode n;
        try {
            n = BoxJson.MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new InvalidArgumentException("exec request: not JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new InvalidArgumentException("exec request: unreadable: " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            throw new InvalidArgumentException("exec request: not a JSON object");
        }
        JsonNode tty = n.path("tty");
        Optional<TtySize> size = Optional.empty();
        if (!tty.isNull() && !tty.isMissingNode()) {
            size = Optional.of(new TtySize(integer(tty, "rows"), integer(tty, "cols")));
        }
        JsonNode timeout = n.path("timeout_ms");
        if (!timeout.canConvertToLong() || !timeout.isIntegralNumber()) {
            throw new InvalidArgumentException("exec request: timeout_ms must be an integer");
        }
        return new ExecRequest(strings(n, "argv"), strings(n, "env"), text(n, "working_dir"), text(n, "user"),
                size, Duration.ofMillis(timeout.asLong()));
    }

    private static List<String> strings(JsonNode n, String field) {
        JsonNode a = n.path(field);
        if (!a.isArray()) {
            throw new InvalidArgumentException("exec request: " + field + " must be an array of strings");
        }
        List<String> out = new ArrayList<>(a.size());
        for (JsonNode e : a) {
            if (!e.isTextual()) {
                throw new InvalidArgumentException("exec request: " + field + " must be an array of strings");
            }
            out.add(e.asText());
        }
        return out;
    }

    private static String text(JsonNode n, String field) {
        JsonNode t = n.path(field);
        if (!t.isTextual()) {
            throw new InvalidArgumentException("exec request: " + field + " must be a string");
        }
        return t.asText();
    }

    private static int integer(JsonNode n, String field) {
        JsonNode t = n.path(field);
        if (!t.isInt()) {
            throw new InvalidArgumentException("exec request: tty." + field + " must be an integer");
        }
        return t.asInt();
    }
}
