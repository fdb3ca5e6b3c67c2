package io.boxlite;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How to make a box: BoxLite's {@code BoxOptions}, with its names and defaults. Immutable; build
 * one with {@link #builder()}. Values are checked when the box is created
 * ({@link Boxlite#create}), which names the field of a bad value in its
 * {@link InvalidArgumentException}.
 *
 * {@snippet :
 * BoxOptions options = BoxOptions.builder().image("python:3.12-slim").cpus(2).memoryMib(2048)
 *         .env("MODE", "test").workingDir("/work").build();
 * }
 *
 * @param image       the image reference (default {@value #DEFAULT_IMAGE}); must be in the local
 *                    store or pullable
 * @param rootfsPath  a local OCI image layout directory to use instead of {@code image}
 * @param cpus        virtual CPUs (default {@value #DEFAULT_CPUS})
 * @param memoryMib   guest RAM in MiB (default {@value #DEFAULT_MEMORY_MIB})
 * @param diskSizeGb  the root disk's size in GiB; 0 (default) keeps the image's size plus 256 MiB
 *                    free. A larger disk is thin (allocated as written) and the guest grows its
 *                    filesystem to fill it at first boot; smaller than the image is refused at
 *                    create ({@link InvalidArgumentException} naming {@code diskSizeGb})
 * @param workingDir  the working directory of commands; else the image's WORKDIR, else {@code /}
 * @param env         environment merged over the image's ENV
 * @param volumes     host directories to share (not supported yet)
 * @param ports       ports to publish (not supported yet)
 * @param network     the box's network ({@link NetworkMode#NONE} until the network back end lands)
 * @param autoRemove  remove the box when it stops (default true)
 * @param detach      run the box in its own background process, so that it outlives this one
 * @param entrypoint  replaces the image's ENTRYPOINT
 * @param cmd         replaces the image's CMD (ENTRYPOINT is kept)
 * @param user        {@code name|uid[:group|gid]}; else the image's USER, else root
 */
public record BoxOptions(String image, Optional<Path> rootfsPath, int cpus, int memoryMib, long diskSizeGb,
                         Optional<String> workingDir, Map<String, String> env, List<VolumeSpec> volumes,
                         List<PortSpec> ports, NetworkMode network, boolean autoRemove, boolean detach,
                         Optional<List<String>> entrypoint, Optional<List<String>> cmd, Optional<String> user) {
    public static final String DEFAULT_IMAGE = "alpine:latest";
    public static final int DEFAULT_CPUS = 1;
    public static final int DEFAULT_MEMORY_MIB = 1024;
    /** Less RAM than this cannot boot the guest kernel with the agent. */
    public static final int MIN_MEMORY_MIB = 128;
    /** The guest's limit (and QEMU's) on virtual CPUs. */
    public static final int MAX_CPUS = 255;

    public BoxOptions {
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(rootfsPath, "rootfsPath");
        Objects.requireNonNull(workingDir, "workingDir");
        env = Collections.unmodifiableMap(new LinkedHashMap<>(env));
        volumes = List.copyOf(volumes);
        ports = List.copyOf(ports);
        Objects.requireNonNull(network, "network");
        entrypoint = entrypoint.map(List::copyOf);
        cmd = cmd.map(List::copyOf);
        Objects.requireNonNull(user, "user");
    }

    /** All defaults: {@value #DEFAULT_IMAGE}, 1 CPU, 1024 MiB. */
    public static BoxOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this record's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.image = image;
        b.rootfsPath = rootfsPath.orElse(null);
        b.cpus = cpus;
        b.memoryMib = memoryMib;
        b.diskSizeGb = diskSizeGb;
        b.workingDir = workingDir.orElse(null);
        b.env.putAll(env);
        b.volumes.addAll(volumes);
        b.ports.addAll(ports);
        b.network = network;
        b.autoRemove = autoRemove;
        b.detach = detach;
        b.entrypoint = entrypoint.orElse(null);
        b.cmd = cmd.orElse(null);
        b.user = user.orElse(null);
        return b;
    }

    /** Builds {@link BoxOptions}; not thread-safe. */
    public static final class Builder {
        private String image = DEFAULT_IMAGE;
        private Path rootfsPath;
        private int cpus = DEFAULT_CPUS;
        private int memoryMib = DEFAULT_MEMORY_MIB;
        private long diskSizeGb;
        private String workingDir;
        private final Map<String, String> env = new LinkedHashMap<>();
        private final List<VolumeSpec> volumes = new ArrayList<>();
        private final List<PortSpec> ports = new ArrayList<>();
        private NetworkMode network = NetworkMode.NONE;
        private boolean autoRemove = true;
        private boolean detach;
        private List<String> entrypoint;
        private List<String> cmd;
        private String user;

        private Builder() {
        }

        public Builder image(String image) {
            this.image = Objects.requireNonNull(image, "image");
            return this;
        }

        public Builder rootfsPath(Path path) {
            this.rootfsPath = path;
            return this;
        }

        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        public Builder memoryMib(int memoryMib) {
            this.memoryMib = memoryMib;
            return this;
        }

        public Builder diskSizeGb(long diskSizeGb) {
            this.diskSizeGb = diskSizeGb;
            return this;
        }

        public Builder workingDir(String dir) {
            this.workingDir = dir;
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

        public Builder volume(Path hostPath, String guestPath, boolean readOnly) {
            volumes.add(new VolumeSpec(hostPath, guestPath, readOnly));
            return this;
        }

        /** Publishes {@code guestPort} on a free host port. */
        public Builder port(int guestPort) {
            return port(0, guestPort);
        }

        public Builder port(int hostPort, int guestPort) {
            ports.add(new PortSpec(hostPort, guestPort, "tcp"));
            return this;
        }

        public Builder network(NetworkMode network) {
            this.network = Objects.requireNonNull(network, "network");
            return this;
        }

        public Builder autoRemove(boolean autoRemove) {
            this.autoRemove = autoRemove;
            return this;
        }

        public Builder detach(boolean detach) {
            this.detach = detach;
            return this;
        }

        public Builder entrypoint(String... entrypoint) {
            this.entrypoint = List.of(entrypoint);
            return this;
        }

        public Builder entrypoint(List<String> entrypoint) {
            this.entrypoint = entrypoint == null ? null : List.copyOf(entrypoint);
            return this;
        }

        public Builder cmd(String... cmd) {
            this.cmd = List.of(cmd);
            return this;
        }

        public Builder cmd(List<String> cmd) {
            this.cmd = cmd == null ? null : List.copyOf(cmd);
            return this;
        }

        public Builder user(String user) {
            this.user = user;
            return this;
        }

        public BoxOptions build() {
            return new BoxOptions(image, Optional.ofNullable(rootfsPath), cpus, memoryMib, diskSizeGb,
                    Optional.ofNullable(workingDir), env, volumes, ports, network, autoRemove, detach,
                    Optional.ofNullable(entrypoint), Optional.ofNullable(cmd), Optional.ofNullable(user));
        }
    }
}
