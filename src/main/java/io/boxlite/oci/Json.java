package io.boxlite.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.InvalidArgumentException;
import com.fasterxml.jackson.core.JacksonException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Strict reading of untrusted JSON documents (manifests, configs, archive metadata). */
public final class Json {
    /** The shared mapper; thread-safe once configured. */
    public static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {
    }

    /**
     * Parses a JSON object.
     *
     * @throws ImageException if {@code data} is not a JSON object; {@code what} names it
     */
    public static ObjectNode object(byte[] data, String what) {
        JsonNode node;
        try {
            node = MAPPER.readTree(data);
        } catch (JacksonException e) {
            throw new ImageException(what + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ImageException(what + " could not be read as JSON", e);
        }
        if (!(node instanceof ObjectNode object)) {
            throw new ImageException(what + " is not a JSON object");
        }
        return object;
    }

    public static Optional<String> text(JsonNode node, String field, String what) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw new ImageException(what + ": field '" + field + "' is not a string");
        }
        return Optional.of(value.textValue());
    }

    public static String requiredText(JsonNode node, String field, String what) {
        return text(node, field, what)
                .orElseThrow(() -> new ImageException(what + ": field '" + field + "' is missing"));
    }

    public static long requiredLong(JsonNode node, String field, String what) {
        JsonNode value = node.get(field);
        if (value == null || !value.canConvertToExactIntegral() || !value.canConvertToLong()) {
            throw new ImageException(what + ": field '" + field + "' is missing or not an integer");
        }
        return value.longValue();
    }

    public static List<JsonNode> array(JsonNode node, String field, String what) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return List.of();
        }
        if (!value.isArray()) {
            throw new ImageException(what + ": field '" + field + "' is not an array");
        }
        var list = new ArrayList<JsonNode>();
        value.forEach(list::add);
        return list;
    }

    public static List<String> strings(JsonNode node, String field, String what) {
        var list = new ArrayList<String>();
        for (JsonNode item : array(node, field, what)) {
            if (!item.isTextual()) {
                throw new ImageException(what + ": '" + field + "' holds a non-string");
            }
            list.add(item.textValue());
        }
        return List.copyOf(list);
    }

    public static Map<String, String> stringMap(JsonNode node, String field, String what) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return Map.of();
        }
        if (!value.isObject()) {
            throw new ImageException(what + ": field '" + field + "' is not an object");
        }
        var map = new LinkedHashMap<String, String>();
        for (var entry : value.properties()) {
            if (!entry.getValue().isTextual()) {
                throw new ImageException(what + ": '" + field + "." + entry.getKey()
                        + "' is not a string");
            }
            map.put(entry.getKey(), entry.getValue().textValue());
        }
        return map;
    }

    public static Digest digest(JsonNode node, String field, String what) {
        String text = requiredText(node, field, what);
        try {
            return Digest.parse(text);
        } catch (InvalidArgumentException e) {
            throw new ImageException(what + ": " + e.getMessage(), e);
        }
    }

    /** Serializes a tree compactly. */
    public static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new AssertionError("A JSON tree always serializes", e);
        }
    }
}
