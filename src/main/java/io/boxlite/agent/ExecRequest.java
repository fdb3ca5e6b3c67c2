package io.boxlite.agent;

import io.boxlite.InvalidArgumentException;
import io.boxlite.agent.protocol.Limits;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A command to run in the guest. Immutable; built with {@link #builder(String...)}.
 *
 * {@snippet :
 * ExecRequest request = ExecRequest.builder("sh", "-c", "make test")
 *         .env("CI", "1").workingDir("/src").user("builder").timeout(Duration.ofMinutes(5))
 *         .build();
 * }
 *
 * @param argv the program and its arguments; the program is looked up on the command's PATH
 * @param env KEY=VALUE entries; the agent adds PATH, HOME (and TERM with a TTY) when absent
 * @param workingDir absolute directory, empty for {@code /}
 * @param user empty for the agent's user (root), else a name, uid, name:group or uid:gid
 *     resolved from the guest's /etc/passwd and /etc/group
 * @param tty a pseudo-terminal of this size, or none for separate stdout/stderr pipes
 * @param timeout after which the agent kills the command's process group; zero for none
 */
public record ExecRequest(List<String> argv, List<String> env, String workingDir, String user,
                          Optional<TtySize> tty, Duration timeout) {
    public ExecRequest {
        argv = List.copyOf(argv);
        env = List.copyOf(env);
        Objects.requireNonNull(workingDir, "workingDir");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(tty, "tty");
        Objects.requireNonNull(timeout, "timeout");
        validate(argv, env, workingDir, user, timeout);
    }

    public static Builder builder(String... argv) {
        return new Builder(List.of(argv));
    }

    public static Builder builder(List<String> argv) {
        return new Builder(argv);
    }

    private static void validate(List<String> argv, List<String> env, String workingDir, String user,
                                 Duration timeout) {
        if (argv.isEmpty() || argv.getFirst().isEmpty()) {
            throw new InvalidArgumentException("A command needs a non-empty program name");
        }
        if (argv.size() > Limits.MAX_ARGS || env.size() > Limits.MAX_ENVS) {
            throw new InvalidArgumentException("A command may have at most " + Limits.MAX_ARGS
                    + " arguments and " + Limits.MAX_ENVS + " environment entries");
        }
        long total = 0;
        for (String a : argv) {
            total += checkedBytes(a, "argument") + 1L;
        }
        for (String e : env) {
            int eq = e.indexOf('=');
            if (eq <= 0) {
                throw new InvalidArgumentException("Environment entry '" + e + "' is not KEY=VALUE");
            }
            total += checkedBytes(e, "environment entry") + 1L;
        }
        if (total > Limits.MAX_ARGV_ENV_BYTES) {
            throw new InvalidArgumentException("Arguments and environment total " + total + " bytes; the limit is "
                    + Limits.MAX_ARGV_ENV_BYTES + " (pass large data through stdin or a file)");
        }
        if (!workingDir.isEmpty() && !workingDir.startsWith("/")) {
            throw new InvalidArgumentException("Working directory '" + workingDir + "' is not absolute");
        }
        if (checkedBytes(workingDir, "working directory") > Limits.MAX_STRING
                || checkedBytes(user, "user") > Limits.MAX_STRING) {
            throw new InvalidArgumentException("Working directory and user are limited to "
                    + Limits.MAX_STRING + " bytes");
        }
        if (timeout.isNegative() || timeout.toMillis() > 0xffffffffL) {
            throw new InvalidArgumentException("Timeout " + timeout + " is negative or longer than 49 days");
        }
        if (!timeout.isZero() && timeout.toMillis() == 0) {
            throw new InvalidArgumentException("Timeout " + timeout + " is shorter than a millisecond");
        }
    }

    private static int checkedBytes(String s, String what) {
        if (s.indexOf('\0') >= 0) {
            throw new InvalidArgumentException("The " + what + " '" + s.replace('\0', '?') + "' contains a NUL character");
        }
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** Builds an {@link ExecRequest}; not thread-safe. */
    public static final class Builder {
        private final List<String> argv;
        private final Map<String, String> env = new LinkedHashMap<>();
        private String workingDir = "";
        private String user = "";
        private TtySize tty;
        private Duration timeout = Duration.ZERO;

        private Builder(List<String> argv) {
            this.argv = new ArrayList<>(argv);
        }

        public Builder env(String key, String value) {
            if (key.isEmpty() || key.indexOf('=') >= 0) {
                throw new InvalidArgumentException("Environment key '" + key + "' is empty or contains '='");
            }
            env.put(key, Objects.requireNonNull(value, "value"));
            return this;
        }

        public Builder env(Map<String, String> entries) {
            entries.forEach(this::env);
            return this;
        }

        public Builder workingDir(String dir) {
            this.workingDir = Objects.requireNonNull(dir, "dir");
            return this;
        }

        public Builder user(String user) {
            this.user = Objects.requireNonNull(user, "user");
            return this;
        }

        public Builder tty(int rows, int cols) {
            this.tty = new TtySize(rows, cols);
            return this;
        }

        public Builder timeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        public ExecRequest build() {
            List<String> entries = new ArrayList<>();
            env.forEach((k, v) -> entries.add(k + "=" + v));
            return new ExecRequest(argv, entries, workingDir, user, Optional.ofNullable(tty), timeout);
        }
    }
}
