package io.boxlite;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A command to run in a box: BoxLite's {@code BoxCommand}. Immutable; build with
 * {@link #of(String, String...)} or {@link #builder(String)}.
 *
 * {@snippet :
 * BoxCommand cmd = BoxCommand.builder("pytest").arg("-q").env("CI", "1").workingDir("/src")
 *         .timeout(Duration.ofMinutes(5)).onStdout(line -> System.out.println(line)).build();
 * }
 *
 * @param command    the program (looked up on the box's PATH)
 * @param args       its arguments
 * @param env        environment merged over the box's
 * @param workingDir else the box's working directory
 * @param user       else the box's user
 * @param tty        run on a pseudo-terminal of this size (stderr then goes to stdout)
 * @param timeout    kill it after this long; zero for no limit
 * @param onStdout   called with each line of stdout (without its newline) on a virtual thread
 * @param onStderr   likewise for stderr
 */
public record BoxCommand(String command, List<String> args, Map<String, String> env, Optional<String> workingDir,
                         Optional<String> user, Optional<TtySize> tty, Duration timeout,
                         Optional<Consumer<String>> onStdout, Optional<Consumer<String>> onStderr) {

    /** A terminal size in character cells. */
    public record TtySize(int rows, int cols) {
        public TtySize {
            if (rows < 1 || rows > 0xFFFF || cols < 1 || cols > 0xFFFF) {
                throw new InvalidArgumentException("tty: rows and cols must be within 1..65535, got "
                        + rows + "x" + cols);
            }
        }
    }

    public BoxCommand {
        Objects.requireNonNull(command, "command");
        if (command.isEmpty()) {
            throw new InvalidArgumentException("command: must not be empty");
        }
        args = List.copyOf(args);
        env = Collections.unmodifiableMap(new LinkedHashMap<>(env));
        Objects.requireNonNull(workingDir, "workingDir");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(tty, "tty");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new InvalidArgumentException("timeout: must not be negative, got " + timeout);
        }
        Objects.requireNonNull(onStdout, "onStdout");
        Objects.requireNonNull(onStderr, "onStderr");
    }

    public static BoxCommand of(String command, String... args) {
        return builder(command).args(args).build();
    }

    public static Builder builder(String command) {
        return new Builder(command);
    }

    /** The full argument vector: command, then args. */
    public List<String> argv() {
        List<String> argv = new ArrayList<>(args.size() + 1);
        argv.add(command);
        argv.addAll(args);
        return argv;
    }

    /** Builds {@link BoxCommand}; not thread-safe. */
    public static final class Builder {
        private final String command;
        private final List<String> args = new ArrayList<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private String workingDir;
        private String user;
        private TtySize tty;
        private Duration timeout = Duration.ZERO;
        private Consumer<String> onStdout;
        private Consumer<String> onStderr;

        private Builder(String command) {
            this.command = Objects.requireNonNull(command, "command");
        }

        public Builder arg(String arg) {
            args.add(Objects.requireNonNull(arg, "arg"));
            return this;
        }

        public Builder args(String... args) {
            for (String a : args) {
                arg(a);
            }
            return this;
        }

        public Builder args(List<String> args) {
            args.forEach(this::arg);
            return this;
        }

        public Builder env(String key, String value) {
            env.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        public Builder env(Map<String, String> entries) {
            entries.forEach(this::env);
            return this;
        }

        public Builder workingDir(String dir) {
            this.workingDir = dir;
            return this;
        }

        public Builder user(String user) {
            this.user = user;
            return this;
        }

        /** A pseudo-terminal of 24 rows and 80 columns. */
        public Builder tty(boolean tty) {
            this.tty = tty ? new TtySize(24, 80) : null;
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

        public Builder onStdout(Consumer<String> listener) {
            this.onStdout = listener;
            return this;
        }

        public Builder onStderr(Consumer<String> listener) {
            this.onStderr = listener;
            return this;
        }

        public BoxCommand build() {
            return new BoxCommand(command, args, env, Optional.ofNullable(workingDir), Optional.ofNullable(user),
                    Optional.ofNullable(tty), timeout, Optional.ofNullable(onStdout), Optional.ofNullable(onStderr));
        }
    }
}
