package io.boxlite.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.Options;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * An unpacked guest kernel as {@code bin/fetch-kernel} leaves it: a directory holding
 * {@code kernel.json}, the bzImage under {@code boot/} and the modules under
 * {@code lib/modules/<version>/}.
 *
 * {@snippet :
 * GuestKernel kernel = GuestKernel.locate(Options.defaults());
 * Path bzImage = kernel.vmlinuz();
 * }
 *
 * @param version        the kernel release, e.g. {@code 6.1.0-57-cloud-amd64} ({@code uname -r})
 * @param dir            the kernel's directory, with symlinks such as {@code current} resolved
 * @param vmlinuz        the compressed kernel image (bzImage)
 * @param modulesDir     {@code <dir>/lib/modules/<version>}
 * @param packageVersion the Debian package version it was unpacked from, e.g. {@code 6.1.192-3}
 */
public record GuestKernel(String version, Path dir, Path vmlinuz, Path modulesDir, String packageVersion) {

    /** The file {@code bin/fetch-kernel} writes into each kernel directory. */
    public static final String DESCRIPTOR = "kernel.json";

    private static final String FIX = "run bin/fetch-kernel (or bin/setup)";
    private static final ObjectMapper JSON = new ObjectMapper();

    public GuestKernel {
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(vmlinuz, "vmlinuz");
        Objects.requireNonNull(modulesDir, "modulesDir");
        Objects.requireNonNull(packageVersion, "packageVersion");
    }

    /** {@link #locate(Options, Map)} with this process's environment. */
    public static GuestKernel locate(Options options) {
        return locate(options, System.getenv());
    }

    /**
     * Finds and validates the guest kernel: {@link Options#kernelDir()}, else
     * {@code BOXLITE_KERNEL_DIR}, else {@code <kernels root>/current}, where the root is
     * {@code BOXLITE_KERNELS} or {@code ~/.local/share/boxlite/kernels}.
     *
     * @throws BoxliteException with {@link ErrorCode#CONFIG} naming the missing or malformed path
     *                          when the directory, {@code kernel.json}, the image or the modules
     *                          directory is missing or unreadable
     */
    public static GuestKernel locate(Options options, Map<String, String> env) {
        Path dir = options.kernelDir().orElseGet(() -> nonBlank(env.get("BOXLITE_KERNEL_DIR"))
                ? Path.of(env.get("BOXLITE_KERNEL_DIR"))
                : kernelsRoot(env).resolve("current"));
        return load(dir);
    }

    /** The kernels root: {@code BOXLITE_KERNELS}, else {@code $HOME/.local/share/boxlite/kernels}. */
    public static Path kernelsRoot(Map<String, String> env) {
        if (nonBlank(env.get("BOXLITE_KERNELS"))) {
            return Path.of(env.get("BOXLITE_KERNELS")).toAbsolutePath();
        }
        String home = nonBlank(env.get("HOME")) ? env.get("HOME") : System.getProperty("user.home");
        return Path.of(home, ".local", "share", "boxlite", "kernels");
    }

    /**
     * Reads and validates the kernel unpacked in {@code dir}.
     *
     * @throws BoxliteException with {@link ErrorCode#CONFIG} as for {@link #locate(Options, Map)}
     */
    public static GuestKernel load(Path dir) {
        Path given = dir.toAbsolutePath();
        if (!Files.isDirectory(given)) {
            throw missing("Guest kernel directory " + given + " does not exist");
        }
        Path real;
        try {
            real = given.toRealPath();
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.CONFIG,
                    "Cannot resolve guest kernel directory " + given + ": " + FIX, e);
        }
        Path descriptor = real.resolve(DESCRIPTOR);
        if (!Files.isRegularFile(descriptor)) {
            throw missing("Guest kernel descriptor " + descriptor + " does not exist");
        }
        JsonNode json;
        try {
            json = JSON.readTree(descriptor.toFile());
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.CONFIG,
                    "Cannot read guest kernel descriptor " + descriptor + ": " + FIX, e);
        }
        String version = field(json, "version", descriptor);
        String packageVersion = field(json, "packageVersion", descriptor);
        Path vmlinuz = real.resolve(field(json, "vmlinuz", descriptor)).normalize();
        if (version.contains("/") || version.startsWith(".") || !vmlinuz.startsWith(real)) {
            throw new BoxliteException(ErrorCode.CONFIG,
                    "Guest kernel descriptor " + descriptor + " names paths outside " + real + ": " + FIX);
        }
        if (!Files.isRegularFile(vmlinuz)) {
            throw missing("Guest kernel image " + vmlinuz + " does not exist");
        }
        if (!Files.isReadable(vmlinuz)) {
            throw new BoxliteException(ErrorCode.CONFIG, "Guest kernel image " + vmlinuz
                    + " is not readable by this user: fix its permissions or " + FIX);
        }
        Path modulesDir = real.resolve("lib").resolve("modules").resolve(version);
        if (!Files.isDirectory(modulesDir)) {
            throw missing("Guest kernel modules directory " + modulesDir + " does not exist");
        }
        return new GuestKernel(version, real, vmlinuz, modulesDir, packageVersion);
    }

    private static String field(JsonNode json, String name, Path descriptor) {
        JsonNode node = json.get(name);
        if (node == null || !node.isTextual() || node.asText().isBlank()) {
            throw new BoxliteException(ErrorCode.CONFIG, "Guest kernel descriptor " + descriptor
                    + " has no \"" + name + "\" string: " + FIX);
        }
        return node.asText();
    }

    private static BoxliteException missing(String what) {
        return new BoxliteException(ErrorCode.CONFIG, what + ": " + FIX);
    }

    private static boolean nonBlank(String s) {
        return s != null && !s.isBlank();
    }
}
