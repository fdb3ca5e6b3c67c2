package io.boxlite.runtime;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.NetworkMode;
import io.boxlite.PortSpec;
import io.boxlite.VolumeSpec;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The JSON forms of a box's record. {@code config.json} carries the seed's fields ({@code id,
 * image, cpus, memory_mib, volumes[host_path, guest_path, read_only], ports[host_port,
 * guest_port, protocol], created_at, status}) plus what is needed to rebuild the database from
 * it ({@code name}, {@code options}, {@code manifest_digest}, {@code state}).
 */
public final class BoxJson {
    static final ObjectMapper MAPPER = new ObjectMapper();
    /** The format of config.json this code writes. */
    static final int FORMAT = 1;

    private BoxJson() {
    }

    /** {@code config.json}: the config with its latest status. */
    public static byte[] configFile(BoxConfig c, BoxStatus s) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("format", FORMAT);
        n.put("id", c.id());
        c.name().ifPresentOrElse(v -> n.put("name", v), () -> n.putNull("name"));
        n.put("image", c.imageReference());
        n.put("manifest_digest", c.manifestDigest());
        n.put("cpus", c.options().cpus());
        n.put("memory_mib", c.options().memoryMib());
        ArrayNode volumes = n.putArray("volumes");
        for (VolumeSpec v : c.options().volumes()) {
            volumes.addObject().put("host_path", v.hostPath().toString()).put("guest_path", v.guestPath())
                    .put("read_only", v.readOnly());
        }
        ArrayNode ports = n.putArray("ports");
        for (PortSpec p : c.options().ports()) {
            ports.addObject().put("host_port", p.hostPort()).put("guest_port", p.guestPort())
                    .put("protocol", p.protocol());
        }
        n.put("created_at", c.createdAt().toString());
        n.put("status", s.state().label());
        n.set("options", options(c.options()));
        n.set("image_config", imageDefaults(c.image()));
        n.set("state", status(s));
        return bytes(n);
    }

    /** The database's {@code box_config.json}. */
    public static String config(BoxConfig c) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("id", c.id());
        c.name().ifPresent(v -> n.put("name", v));
        n.put("created_at", c.createdAt().toString());
        n.put("image", c.imageReference());
        n.put("manifest_digest", c.manifestDigest());
        n.set("options", options(c.options()));
        n.set("image_config", imageDefaults(c.image()));
        return n.toString();
    }

    public static String statusText(BoxStatus s) {
        return status(s).toString();
    }

    static ObjectNode status(BoxStatus s) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("status", s.state().label());
        s.host().ifPresent(v -> n.put("host", v));
        n.put("detached", s.detached());
        s.engine().ifPresent(v -> n.put("engine", v));
        s.exitCode().ifPresent(v -> n.put("exit_code", v));
        s.error().ifPresent(v -> n.put("error_reason", v));
        s.startedAt().ifPresent(v -> n.put("started_at", v.toString()));
        s.stoppedAt().ifPresent(v -> n.put("stopped_at", v.toString()));
        n.put("last_updated", s.updatedAt().toString());
        ObjectNode t = n.putObject("timings_ms");
        s.timingsMs().forEach(t::put);
        return n;
    }

    static ObjectNode imageDefaults(ImageDefaults d) {
        ObjectNode n = MAPPER.createObjectNode();
        d.env().forEach(n.putArray("env")::add);
        d.entrypoint().forEach(n.putArray("entrypoint")::add);
        d.cmd().forEach(n.putArray("cmd")::add);
        d.workingDir().ifPresent(v -> n.put("working_dir", v));
        d.user().ifPresent(v -> n.put("user", v));
        return n;
    }

    static ImageDefaults parseImageDefaults(JsonNode n) {
        return new ImageDefaults(strings(n.path("env")), strings(n.path("entrypoint")), strings(n.path("cmd")),
                optText(n, "working_dir"), optText(n, "user"));
    }

    static ObjectNode options(BoxOptions o) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("image", o.image());
        o.rootfsPath().ifPresent(p -> n.put("rootfs_path", p.toString()));
        n.put("cpus", o.cpus());
        n.put("memory_mib", o.memoryMib());
        n.put("disk_size_gb", o.diskSizeGb());
        o.workingDir().ifPresent(v -> n.put("working_dir", v));
        ObjectNode env = n.putObject("env");
        o.env().forEach(env::put);
        ArrayNode volumes = n.putArray("volumes");
        for (VolumeSpec v : o.volumes()) {
            volumes.addObject().put("host_path", v.hostPath().toString()).put("guest_path", v.guestPath())
                    .put("read_only", v.readOnly());
        }
        ArrayNode ports = n.putArray("ports");
        for (PortSpec p : o.ports()) {
            ports.addObject().put("host_port", p.hostPort()).put("guest_port", p.guestPort())
                    .put("protocol", p.protocol());
        }
        n.put("network", o.network().name().toLowerCase(java.util.Locale.ROOT));
        n.put("auto_remove", o.autoRemove());
        n.put("detach", o.detach());
        o.entrypoint().ifPresent(l -> l.forEach(n.putArray("entrypoint")::add));
        o.cmd().ifPresent(l -> l.forEach(n.putArray("cmd")::add));
        o.user().ifPresent(v -> n.put("user", v));
        return n;
    }

    /** Reads a {@code config.json} back into config and status. */
    public static Map.Entry<BoxConfig, BoxStatus> parseConfigFile(byte[] data, String what) {
        JsonNode n = tree(data, what);
        BoxConfig c = new BoxConfig(text(n, "id", what), optText(n, "name"), Instant.parse(text(n, "created_at", what)),
                parseOptions(n.path("options"), what), text(n, "image", what), text(n, "manifest_digest", what),
                parseImageDefaults(n.path("image_config")));
        BoxStatus s = n.has("state") ? parseStatus(n.get("state"), what)
                : BoxStatus.configured().withState(BoxState.parse(text(n, "status", what)));
        return Map.entry(c, s);
    }

    public static BoxConfig parseConfig(String json, String what) {
        JsonNode n = tree(json.getBytes(java.nio.charset.StandardCharsets.UTF_8), what);
        return new BoxConfig(text(n, "id", what), optText(n, "name"), Instant.parse(text(n, "created_at", what)),
                parseOptions(n.path("options"), what), text(n, "image", what), text(n, "manifest_digest", what),
                parseImageDefaults(n.path("image_config")));
    }

    public static BoxStatus parseStatus(String json, String what) {
        return parseStatus(tree(json.getBytes(java.nio.charset.StandardCharsets.UTF_8), what), what);
    }

    static BoxStatus parseStatus(JsonNode n, String what) {
        Map<String, Long> timings = new TreeMap<>();
        n.path("timings_ms").properties().forEach(e -> timings.put(e.getKey(), e.getValue().asLong()));
        return new BoxStatus(BoxState.parse(text(n, "status", what)), optText(n, "host"),
                n.path("detached").asBoolean(false), optText(n, "engine"),
                n.hasNonNull("exit_code") ? Optional.of(n.get("exit_code").asInt()) : Optional.empty(),
                optText(n, "error_reason"), optText(n, "started_at").map(Instant::parse),
                optText(n, "stopped_at").map(Instant::parse),
                optText(n, "last_updated").map(Instant::parse).orElse(Instant.EPOCH), timings);
    }

    static BoxOptions parseOptions(JsonNode n, String what) {
        if (!n.isObject()) {
            throw new BoxliteException(ErrorCode.METADATA, what + ": 'options' is missing or not an object");
        }
        BoxOptions.Builder b = BoxOptions.builder().image(text(n, "image", what))
                .cpus(n.path("cpus").asInt(BoxOptions.DEFAULT_CPUS))
                .memoryMib(n.path("memory_mib").asInt(BoxOptions.DEFAULT_MEMORY_MIB))
                .diskSizeGb(n.path("disk_size_gb").asLong(0))
                .autoRemove(n.path("auto_remove").asBoolean(true))
                .detach(n.path("detach").asBoolean(false))
                .network("enabled".equals(n.path("network").asText()) ? NetworkMode.ENABLED : NetworkMode.NONE);
        optText(n, "rootfs_path").map(Path::of).ifPresent(b::rootfsPath);
        optText(n, "working_dir").ifPresent(b::workingDir);
        optText(n, "user").ifPresent(b::user);
        Map<String, String> env = new LinkedHashMap<>();
        n.path("env").properties().forEach(e -> env.put(e.getKey(), e.getValue().asText()));
        b.env(env);
        for (JsonNode v : n.path("volumes")) {
            b.volume(Path.of(v.path("host_path").asText()), v.path("guest_path").asText(),
                    v.path("read_only").asBoolean(false));
        }
        for (JsonNode p : n.path("ports")) {
            b.port(p.path("host_port").asInt(), p.path("guest_port").asInt());
        }
        if (n.has("entrypoint")) {
            b.entrypoint(strings(n.get("entrypoint")));
        }
        if (n.has("cmd")) {
            b.cmd(strings(n.get("cmd")));
        }
        return b.build();
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        for (Iterator<JsonNode> it = array.elements(); it.hasNext(); ) {
            out.add(it.next().asText());
        }
        return out;
    }

    private static JsonNode tree(byte[] data, String what) {
        try {
            JsonNode n = MAPPER.readTree(data);
            if (n == null || !n.isObject()) {
                throw new BoxliteException(ErrorCode.METADATA, what + " is not a JSON object");
            }
            return n;
        } catch (JacksonException e) {
            throw new BoxliteException(ErrorCode.METADATA, what + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (java.io.IOException e) {
            throw new BoxliteException(ErrorCode.METADATA, what + " cannot be read", e);
        }
    }

    private static String text(JsonNode n, String field, String what) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new BoxliteException(ErrorCode.METADATA, what + ": field '" + field + "' is missing or not a string");
        }
        return v.textValue();
    }

    private static Optional<String> optText(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(v.asText());
    }

    private static byte[] bytes(JsonNode n) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
        } catch (JacksonException e) {
            throw new BoxliteException(ErrorCode.INTERNAL, "Cannot write a box's JSON", e);
        }
    }
}
