package io.boxlite.guest;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;

/**
 * The initramfs both engines boot: an init program (the guest agent) plus the kernel modules
 * it loads before it can reach the box's disk and the host. Built once per kernel version and
 * content, cached under {@code $BOXLITE_HOME/init/}, staged in the home's {@code tmp/} and
 * renamed into place.
 *
 * <p>Layout inside the archive:
 * <pre>
 * /init                     the init program (mode 0755)
 * /lib/modules/NAME.ko      each module, flat
 * /etc/boxlite/modules      their paths, one per line, in load order (dependencies first)
 * /FILE                     extra files given to the builder ({@link #forBoxes}: /sbin/resize2fs,
 *                           its loader and libraries at their host paths)
 * </pre>
 */
public final class Initramfs {
    /** Bumped whenever the layout changes, so old cache entries are not reused. */
    static final int FORMAT = 1;

    /** What a box needs: disk, vsock to the host, network, shared folders, overlay roots. */
    public static final List<String> BOX_MODULES = List.of(
            "virtio_mmio", "virtio_blk", "vmw_vsock_virtio_transport", "virtio_net", "virtiofs", "overlay");

    /** Where {@link #forBoxes} puts {@code resize2fs}, which the agent runs to grow the root filesystem. */
    public static final String RESIZE2FS = "sbin/resize2fs";
    private static final List<Path> RESIZE2FS_ON_HOST =
            List.of(Path.of("/usr/sbin/resize2fs"), Path.of("/sbin/resize2fs"));

    private final GuestKernel kernel;
    private final byte[] init;
    private final List<String> modules;
    private final Map<String, byte[]> extraFiles;

    private Initramfs(GuestKernel kernel, byte[] init, List<String> modules, Map<String, byte[]> extraFiles) {
        this.kernel = kernel;
        this.init = init.clone();
        this.modules = List.copyOf(modules);
        this.extraFiles = new TreeMap<>(extraFiles);
    }

    /**
     * An initramfs for {@code kernel} running {@code init}, loading {@code modules} (plus their
     * dependencies), and carrying {@code extraFiles} (archive path → content, mode 0755; parents
     * are created).
     */
    public static Initramfs of(GuestKernel kernel, byte[] init, List<String> modules, Map<String, byte[]> extraFiles) {
        if (init.length == 0) {
            throw new IllegalArgumentException("the init program is empty");
        }
        return new Initramfs(kernel, init, modules, extraFiles);
    }

    /**
     * The initramfs of boxes whose root filesystem may need growing: {@code agent} as init,
     * {@link #BOX_MODULES}, and the host's {@code resize2fs} with its loader and libraries at
     * {@value #RESIZE2FS} (the agent grows a root filesystem smaller than its disk before
     * switching root to it). Other boxes boot the same without the extra files.
     *
     * @throws io.boxlite.EngineUnavailableException if e2fsprogs is not installed
     */
    public static Initramfs forBoxes(GuestKernel kernel, byte[] agent) {
        Path resize2fs = RESIZE2FS_ON_HOST.stream().filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new io.boxlite.EngineUnavailableException("resize2fs is not installed, and boxes "
                        + "need it to grow their root filesystem: install e2fsprogs (bin/setup)"));
        return of(kernel, agent, BOX_MODULES, HostProgram.resolve(resize2fs, RESIZE2FS).files());
    }

    /**
     * The cached archive for this content, building it first if needed. Concurrent builders of
     * the same content each stage their own copy; the atomic rename makes either one win whole.
     */
    public Path build(BoxliteHome home) {
        List<Path> moduleFiles = KernelModules.read(kernel.modulesDir()).loadOrder(modules);
        Path target = home.init().resolve("initramfs-" + kernel.version() + "-" + cacheKey(moduleFiles) + ".cpio.gz");
        if (Files.isRegularFile(target)) {
            return target;
        }
        home.staging().writeAtomically(target, staged -> {
            try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(staged), 1 << 16)) {
                write(out, moduleFiles);
            }
        });
        return target;
    }

    private void write(OutputStream out, List<Path> moduleFiles) throws IOException {
        CpioWriter cpio = new CpioWriter(out);
        cpio.file("init", 0755, init);
        cpio.directory("lib", 0755);
        cpio.directory("lib/modules", 0755);
        StringBuilder order = new StringBuilder();
        for (Path module : moduleFiles) {
            String name = module.getFileName().toString();
            if (!name.endsWith(".ko")) {
                throw new BoxliteException(ErrorCode.UNSUPPORTED, "Kernel module " + module
                        + " is compressed; only uncompressed .ko modules (as Debian's cloud kernel ships) are supported");
            }
            cpio.file("lib/modules/" + name, 0644, Files.readAllBytes(module));
            order.append("/lib/modules/").append(name).append('\n');
        }
        cpio.directory("etc", 0755);
        cpio.directory("etc/boxlite", 0755);
        cpio.file("etc/boxlite/modules", 0644, order.toString().getBytes(StandardCharsets.UTF_8));
        List<String> made = new ArrayList<>(List.of("lib", "lib/modules", "etc", "etc/boxlite"));
        for (var e : extraFiles.entrySet()) {
            String path = e.getKey().startsWith("/") ? e.getKey().substring(1) : e.getKey();
            String[] parts = path.split("/");
            StringBuilder dir = new StringBuilder();
            for (int i = 0; i < parts.length - 1; i++) {
                dir.append(i == 0 ? "" : "/").append(parts[i]);
                if (!made.contains(dir.toString())) {
                    cpio.directory(dir.toString(), 0755);
                    made.add(dir.toString());
                }
            }
            cpio.file(path, 0755, e.getValue());
        }
        cpio.finish();
    }

    private String cacheKey(List<Path> moduleFiles) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(("format " + FORMAT + "\nkernel " + kernel.version() + " " + kernel.packageVersion() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            sha.update(init);
            for (Path m : moduleFiles) {
                sha.update(("module " + m.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            for (var e : extraFiles.entrySet()) {
                sha.update(("file " + e.getKey() + "\n").getBytes(StandardCharsets.UTF_8));
                sha.update(e.getValue());
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is always available", e);
        }
    }
}
