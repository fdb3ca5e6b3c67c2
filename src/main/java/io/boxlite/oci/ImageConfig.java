package io.boxlite.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the runtime needs from an image config ({@code config} section of the OCI image config).
 *
 * @param os           e.g. {@code linux}
 * @param architecture e.g. {@code amd64}
 * @param env          {@code KEY=VALUE} entries, in order
 * @param entrypoint   ENTRYPOINT, empty when unset
 * @param cmd          CMD, empty when unset
 * @param workingDir   WORKDIR, empty when unset
 * @param user         USER, empty when unset
 * @param exposedPorts e.g. {@code 80/tcp}
 * @param labels       image labels
 */
public record ImageConfig(String os, String architecture, List<String> env,
                          List<String> entrypoint, List<String> cmd, Optional<String> workingDir,
                          Optional<String> user, Set<String> exposedPorts,
                          Map<String, String> labels) {
    public ImageConfig {
        Objects.requireNonNull(os, "os");
        Objects.requireNonNull(architecture, "architecture");
        env = List.copyOf(env);
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        workingDir = workingDir.filter(s -> !s.isEmpty());
        user = user.filter(s -> !s.isEmpty());
        exposedPorts = Set.copyOf(new TreeSet<>(exposedPorts));
        labels = Map.copyOf(labels);
    }

    /**
     * Parses an image config blob.
     *
     * @throws ImageException if it is not an image config
     */
    public static ImageConfig parse(byte[] data, String what) {
        ObjectNode root = Json.object(data, what);
        JsonNode config = root.path("config");
        if (config.isMissingNode() || config.isNull()) {
            config = Json.MAPPER.createObjectNode();
        } else if (!config.isObject()) {
            throw new ImageException(what + ": field 'config' is not an object");
        }
        String section = what + " config";
        var ports = new TreeSet<String>();
        JsonNode exposed = config.get("ExposedPorts");
        if (exposed != null && !exposed.isNull()) {
            if (!exposed.isObject()) {
                throw new ImageException(section + ": 'ExposedPorts' is not an object");
            }
            exposed.properties().forEach(e -> ports.add(e.getKey()));
        }
        return new ImageConfig(
                Json.text(root, "os", what).orElse("linux"),
                Json.text(root, "architecture", what).orElse(""),
                Json.strings(config, "Env", section),
                Json.strings(config, "Entrypoint", section),
                Json.strings(config, "Cmd", section),
                Json.text(config, "WorkingDir", section),
                Json.text(config, "User", section),
                ports,
                Json.stringMap(config, "Labels", section));
    }
}
