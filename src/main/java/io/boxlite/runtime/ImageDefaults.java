package io.boxlite.runtime;

import io.boxlite.BoxCommand;
import io.boxlite.BoxOptions;
import io.boxlite.InvalidArgumentException;
import io.boxlite.agent.ExecRequest;
import io.boxlite.oci.ImageConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a box's image says about running commands (ENV, ENTRYPOINT, CMD, WORKDIR, USER), copied
 * into the box's record at create so the box keeps working if the image is untagged later; and
 * the rules that combine it with the box's options and a command's own settings.
 */
public record ImageDefaults(List<String> env, List<String> entrypoint, List<String> cmd, Optional<String> workingDir,
                            Optional<String> user) {
    public ImageDefaults {
        env = List.copyOf(env);
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        Objects.requireNonNull(workingDir, "workingDir");
        Objects.requireNonNull(user, "user");
    }

    public static ImageDefaults of(ImageConfig c) {
        return new ImageDefaults(c.env(), c.entrypoint(), c.cmd(), c.workingDir(), c.user());
    }

    /**
     * The box's main command: the options' entrypoint, else the image's; then the options' cmd,
     * else the image's CMD — unless the entrypoint was replaced, which drops the image's CMD
     * (Docker's rule).
     */
    public List<String> mainArgv(BoxOptions o) {
        List<String> argv = new ArrayList<>(o.entrypoint().orElse(entrypoint));
        argv.addAll(o.cmd().orElseGet(() -> o.entrypoint().isPresent() ? List.of() : cmd));
        return argv;
    }

    /** The environment: the image's, then the box's options', then the command's. */
    public Map<String, String> env(BoxOptions o, Map<String, String> command) {
        Map<String, String> merged = new LinkedHashMap<>();
        for (String entry : env) {
            int eq = entry.indexOf('=');
            if (eq > 0) {
                merged.put(entry.substring(0, eq), entry.substring(eq + 1));
            }
        }
        merged.putAll(o.env());
        merged.putAll(command);
        return merged;
    }

    /** The request for {@code argv} with the box's defaults filled in. */
    public ExecRequest request(BoxOptions o, List<String> argv, Map<String, String> env, Optional<String> workingDir,
                               Optional<String> user, Optional<BoxCommand.TtySize> tty, java.time.Duration timeout) {
        if (argv.isEmpty()) {
            throw new InvalidArgumentException("The box has no command to run: the image defines no ENTRYPOINT or "
                    + "CMD, so give one");
        }
        ExecRequest.Builder b = ExecRequest.builder(argv.toArray(String[]::new))
                .env(env(o, env))
                .workingDir(workingDir.or(o::workingDir).or(() -> this.workingDir).orElse("/"))
                .user(user.or(o::user).or(() -> this.user).orElse(""))
                .timeout(timeout);
        tty.ifPresent(t -> b.tty(t.rows(), t.cols()));
        return b.build();
    }

    public ExecRequest request(BoxOptions o, BoxCommand c) {
        return request(o, c.argv(), c.env(), c.workingDir(), c.user(), c.tty(), c.timeout());
    }
}
