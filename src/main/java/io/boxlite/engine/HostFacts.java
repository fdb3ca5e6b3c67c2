package io.boxlite.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The facts about this host that {@link EngineProbe} decides on, gathered in one place so that
 * tests can describe any host shape by hand.
 *
 * @param kvmExists    {@code /dev/kvm} exists
 * @param kvmReadWrite {@code /dev/kvm} is readable and writable by this process
 * @param pvmModule    {@code /sys/module/kvm_pvm} exists, i.e. {@code /dev/kvm} is KVM-PVM
 * @param cpuVirtFlag  {@code "vmx"} or {@code "svm"} if {@code /proc/cpuinfo} lists one
 * @param qemuBinary   {@code qemu-system-x86_64} as found on {@code PATH}
 * @param qemuVersion  the first line {@code qemu-system-x86_64 --version} printed, if it ran
 */
public record HostFacts(boolean kvmExists, boolean kvmReadWrite, boolean pvmModule,
                        Optional<String> cpuVirtFlag, Optional<Path> qemuBinary, Optional<String> qemuVersion) {

    public static final Path KVM_DEVICE = Path.of("/dev/kvm");
    public static final Path PVM_MODULE = Path.of("/sys/module/kvm_pvm");
    public static final Path CPUINFO = Path.of("/proc/cpuinfo");
    public static final String QEMU = "qemu-system-x86_64";

    private static final long QEMU_VERSION_TIMEOUT_SECONDS = 10;

    public HostFacts {
        Objects.requireNonNull(cpuVirtFlag, "cpuVirtFlag");
        Objects.requireNonNull(qemuBinary, "qemuBinary");
        Objects.requireNonNull(qemuVersion, "qemuVersion");
    }

    /** Reads the facts of this host; {@code env} supplies {@code PATH}. */
    public static HostFacts read(Map<String, String> env) {
        boolean exists = Files.exists(KVM_DEVICE);
        boolean readWrite = exists && Files.isReadable(KVM_DEVICE) && Files.isWritable(KVM_DEVICE);
        Optional<Path> qemu = findOnPath(QEMU, env.getOrDefault("PATH", ""));
        return new HostFacts(exists, readWrite, Files.isDirectory(PVM_MODULE), cpuVirtFlag(CPUINFO),
                qemu, qemu.flatMap(HostFacts::firstVersionLine));
    }

    /** {@code "vmx"} or {@code "svm"} if the first {@code flags} line of a cpuinfo file lists it. */
    static Optional<String> cpuVirtFlag(Path cpuinfo) {
        List<String> lines;
        try {
            lines = Files.readAllLines(cpuinfo, StandardCharsets.US_ASCII);
        } catch (IOException | UncheckedIOException e) {
            return Optional.empty();
        }
        return lines.stream()
                .filter(line -> line.startsWith("flags"))
                .findFirst()
                .flatMap(line -> Arrays.stream(line.substring(line.indexOf(':') + 1).trim().split("\\s+"))
                        .filter(flag -> flag.equals("vmx") || flag.equals("svm"))
                        .findFirst());
    }

    /** The first executable regular file called {@code name} in a {@code PATH}-style list. */
    public static Optional<Path> findOnPath(String name, String path) {
        for (String dir : path.split(":")) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    private static Optional<String> firstVersionLine(Path qemu) {
        try {
            Process process = new ProcessBuilder(qemu.toString(), "--version")
                    .redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .start();
            // The output is a few lines, well under a pipe buffer, so waiting first cannot block it.
            if (!process.waitFor(QEMU_VERSION_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return Optional.empty();
            }
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                return Optional.empty();
            }
            return out.lines().map(String::strip).filter(line -> !line.isEmpty()).findFirst();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
