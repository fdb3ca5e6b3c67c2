package io.boxlite.cli;

import io.boxlite.BoxOptions;
import io.boxlite.InvalidArgumentException;
import io.boxlite.NetworkMode;
import io.boxlite.PortSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import picocli.CommandLine.Option;

/** The box flags {@code run} and {@code create} share (Docker's names). */
final class BoxFlags {
    @Option(names = {"-e", "--env"}, paramLabel = "KEY[=VALUE]",
            description = "Set an environment variable (KEY alone takes the host's value).")
    List<String> env = new ArrayList<>();

    @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory in the box.")
    String workdir;

    @Option(names = {"-u", "--user"}, paramLabel = "USER[:GROUP]", description = "User to run as.")
    String user;

    @Option(names = "--name", description = "A unique name for the box.")
    String name;

    @Option(names = "--cpus", description = "Virtual CPUs (default 1).")
    Integer cpus;

    @Option(names = {"-m", "--memory"}, paramLabel = "SIZE",
            description = "Guest memory: MiB, or with a unit (512m, 2g); default 1024.")
    String memory;

    @Option(names = "--disk-size", paramLabel = "GB",
            description = "Root disk size in GiB, at least the image's (default: the image's, plus 256 MiB free).")
    Long diskSize;

    @Option(names = "--entrypoint", description = "Replace the image's ENTRYPOINT (split on spaces).")
    String entrypoint;

    @Option(names = "--rm", description = "Remove the box when it stops.")
    boolean rm;

    @Option(names = {"-p", "--publish"}, paramLabel = "[HOST:]BOX[/tcp]", description = "Publish a port (not supported yet).")
    List<String> publish = new ArrayList<>();

    @Option(names = {"-v", "--volume"}, paramLabel = "HOST:BOX[:ro]", description = "Share a directory (not supported yet).")
    List<String> volumes = new ArrayList<>();

    @Option(names = "--network", description = "Network mode: none (default; networking is not supported yet).")
    String network;

    @Option(names = "--rootfs", paramLabel = "DIR", description = "Use this OCI image layout instead of IMAGE.")
    Path rootfs;

    BoxOptions.Builder toOptions(String image, List<String> command, Map<String, String> hostEnv) {
        BoxOptions.Builder b = BoxOptions.builder().image(image).autoRemove(rm);
        for (String e : env) {
            int eq = e.indexOf('=');
            if (eq == 0) {
                throw new InvalidArgumentException("-e " + e + ": the variable name is empty");
            }
            if (eq < 0) {
                String value = hostEnv.get(e);
                if (value != null) {
                    b.env(e, value);
                }
            } else {
                b.env(e.substring(0, eq), e.substring(eq + 1));
            }
        }
        if (workdir != null) {
            b.workingDir(workdir);
        }
        if (user != null) {
            b.user(user);
        }
        if (cpus != null) {
            b.cpus(cpus);
        }
        if (memory != null) {
            b.memoryMib(parseMemory(memory));
        }
        if (diskSize != null) {
            b.diskSizeGb(diskSize);
        }
        if (entrypoint != null) {
            b.entrypoint(entrypoint.isBlank() ? List.of() : List.of(entrypoint.strip().split("\\s+")));
        }
        if (!command.isEmpty()) {
            b.cmd(command);
        }
        if (rootfs != null) {
            b.rootfsPath(rootfs.toAbsolutePath());
        }
        for (String p : publish) {
            b.port(parsePort(p).hostPort(), parsePort(p).guestPort());
        }
        for (String v : volumes) {
            String[] parts = v.split(":");
            if (parts.length < 2) {
                throw new InvalidArgumentException("-v " + v + ": expected HOST:BOX[:ro]");
            }
            b.volume(Path.of(parts[0]), parts[1], parts.length > 2 && parts[2].equals("ro"));
        }
        if (network != null) {
            switch (network.toLowerCase(Locale.ROOT)) {
                case "none" -> b.network(NetworkMode.NONE);
                case "bridge", "host", "default", "enabled" -> b.network(NetworkMode.ENABLED);
                default -> throw new InvalidArgumentException("--network " + network + ": use none");
            }
        }
        return b;
    }

    static int parseMemory(String text) {
        String t = text.strip().toLowerCase(Locale.ROOT).replaceAll("i?b$", "");
        try {
            if (t.matches("\\d+")) {
                return Math.toIntExact(Long.parseLong(t));
            }
            long n = Long.parseLong(t.substring(0, t.length() - 1));
            return switch (t.charAt(t.length() - 1)) {
                case 'k' -> Math.toIntExact(n / 1024);
                case 'm' -> Math.toIntExact(n);
                case 'g' -> Math.toIntExact(n * 1024);
                default -> throw new NumberFormatException();
            };
        } catch (NumberFormatException | ArithmeticException | StringIndexOutOfBoundsException e) {
            throw new InvalidArgumentException("--memory " + text + ": expected MiB or a size such as 512m or 2g");
        }
    }

    private static PortSpec parsePort(String text) {
        String spec = text.replaceAll("/(tcp|udp)$", "");
        String[] parts = spec.split(":");
        try {
            return parts.length == 1 ? new PortSpec(0, Integer.parseInt(parts[0]), "tcp")
                    : new PortSpec(Integer.parseInt(parts[parts.length - 2]), Integer.parseInt(parts[parts.length - 1]), "tcp");
        } catch (NumberFormatException e) {
            throw new InvalidArgumentException("-p " + text + ": expected [HOST:]BOX[/tcp]");
        }
    }
}
