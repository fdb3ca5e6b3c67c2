package io.boxlite.lab;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.Options;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.guest.CpioWriter;
import io.boxlite.guest.Initramfs;
import io.boxlite.guest.KernelModules;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * Builds the nested lab's outer initramfs: everything the outer guest needs to run BoxLite's VMM
 * on its (real, emulated-SVM) KVM, in one uncompressed cpio archive.
 *
 * <pre>
 * /init                    the outer init (shell): modules, /dev/kvm check, runs {@link LabInside}
 * /bin/busybox             busybox-static (its applets are installed at boot)
 * /lib/modules/lab/*.ko    irqbypass, kvm, kvm-amd; /etc/lab/modules lists them in load order
 * /jre                     a jlinked JDK runtime ({@link #JRE_MODULES}) with a CDS archive
 * /app/cp/…                our classes and their runtime jars; /etc/lab/classpath joins them
 * /lib…, /usr/lib…         the shared libraries java (and QEMU) load, at their host paths
 * /lab/vmlinuz             the inner kernel (the same Debian kernel)
 * /lab/marker.cpio.gz      busybox init printing BOXLITE-LAB-MARKER cpus=N, then reboot -f
 * /lab/box-initramfs.cpio.gz, /lab/box.ext4   a box: the agent as init; a busybox ext4 root
 * /lab/kernel/…            the guest kernel as the runtime finds it: kernel.json, boot/vmlinuz (a link
 *                          to /lab/vmlinuz), modules.dep and the box modules
 * /lab/oci-busybox/…       the box image as an OCI layout, for the runtime ({@link LabOciLayout})
 * /usr/sbin/{mke2fs,debugfs,e2fsck}, /etc/mke2fs.conf   what the runtime builds a box's root with
 * /lab/qemu/…              optional: qemu-system-x86_64 (linked at /usr/bin for the QEMU engine), its
 *                          libraries, bios-microvm.bin (also in share/qemu, QEMU's relocated data dir)
 * </pre>
 *
 * Images are cached in {@code cacheDir} under a name derived from all inputs; the jlinked runtime,
 * the box initramfs and the box disk are cached there too. Everything is staged and renamed.
 */
public final class LabImage {
    /** Bumped when the layout changes. */
    static final int FORMAT = 2;
    /** What our jar needs ({@code jdeps --print-module-deps}: base, net.http, sql, security.auth) plus logging and friends. */
    public static final List<String> JRE_MODULES = List.of("java.base", "java.logging", "java.sql", "jdk.unsupported",
            "jdk.security.auth", "java.net.http", "jdk.httpserver");
    static final List<String> KVM_MODULES = List.of("kvm_amd");
    static final Path BUSYBOX = Path.of("/bin/busybox");
    static final Path MKE2FS = Path.of("/sbin/mke2fs");
    /** The e2fsprogs the runtime's rootfs builder runs, shipped at the path it looks first. */
    static final List<Path> E2FSPROGS = List.of(Path.of("/usr/sbin/mke2fs"), Path.of("/usr/sbin/debugfs"),
            Path.of("/usr/sbin/e2fsck"));
    static final Path MKE2FS_CONF = Path.of("/etc/mke2fs.conf");
    static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    static final Path QEMU_DATA = Path.of("/usr/share/qemu");

    /** What goes in: the kernel (outer and inner), the JDK to jlink from, our class path, QEMU or not. */
    public record Spec(GuestKernel kernel, Path javaHome, List<Path> classpath, boolean withQemu, Path cacheDir) {
        public Spec {
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(javaHome, "javaHome");
            Objects.requireNonNull(cacheDir, "cacheDir");
            classpath = List.copyOf(classpath);
            if (classpath.isEmpty()) {
                throw new IllegalArgumentException("the lab needs BoxLite's class path");
            }
        }
    }

    private LabImage() {
    }

    /** The default cache: {@code $XDG_CACHE_HOME/boxlite/lab} or {@code ~/.cache/boxlite/lab}. */
    public static Path defaultCacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("boxlite").resolve("lab");
    }

    /** What is missing on this host to build the image, or empty. */
    public static List<String> missingTools(boolean withQemu) {
        List<String> missing = new ArrayList<>();
        if (!Files.isExecutable(BUSYBOX)) {
            missing.add(BUSYBOX + " (busybox-static)");
        }
        if (!Files.isExecutable(MKE2FS)) {
            missing.add(MKE2FS + " (e2fsprogs)");
        }
        for (Path tool : E2FSPROGS) {
            if (!Files.isExecutable(tool)) {
                missing.add(tool + " (e2fsprogs)");
            }
        }
        if (!Files.isExecutable(Path.of("/usr/bin/ldd"))) {
            missing.add("ldd (libc-bin)");
        }
        if (!Files.isExecutable(QEMU)) {
            missing.add(QEMU + " (qemu-system-x86)");
        }
        if (withQemu && !Files.exists(QEMU_DATA.resolve("bios-microvm.bin"))) {
            missing.add(QEMU_DATA.resolve("bios-microvm.bin") + " (qemu-system-data / seabios)");
        }
        return missing;
    }

    /** The outer image for {@code spec}, built if not cached. */
    public static Path build(Spec spec) {
        try {
            Files.createDirectories(spec.cacheDir());
            ImageTree tree = new ImageTree();
            tree.text("init", outerInit(), 0755);
            tree.file("bin/busybox", BUSYBOX);

            List<Path> modules = KernelModules.read(spec.kernel().modulesDir()).loadOrder(KVM_MODULES);
            StringBuilder order = new StringBuilder();
            for (Path m : modules) {
                tree.file("lib/modules/lab/" + m.getFileName(), m);
                order.append("/lib/modules/lab/").append(m.getFileName()).append('\n');
            }
            tree.text("etc/lab/modules", order.toString(), 0644);

            Path jre = jre(spec);
            tree.tree("jre", jre);
            List<String> cp = new ArrayList<>();
            for (int i = 0; i < spec.classpath().size(); i++) {
                Path entry = spec.classpath().get(i);
                String name = String.format("app/cp/%02d-%s", i, entry.getFileName());
                if (Files.isDirectory(entry)) {
                    tree.tree(name, entry);
                } else {
                    tree.file(name, entry);
                }
                cp.add("/" + name);
            }
            tree.text("etc/lab/classpath", String.join(":", cp), 0644);

            List<Path> dynamic = new ArrayList<>(List.of(jre.resolve("bin/java")));
            try (Stream<Path> walk = Files.walk(jre.resolve("lib"))) {
                walk.filter(p -> p.toString().endsWith(".so")).forEach(dynamic::add);
            }
            tree.file("lab/vmlinuz", spec.kernel().vmlinuz());
            tree.bytes("lab/marker.cpio.gz", markerInitramfs(), 0644);
            tree.file("lab/box-initramfs.cpio.gz", boxInitramfs(spec));
            tree.file("lab/box.ext4", boxDisk(spec.cacheDir()));
            kernelDir(tree, spec.kernel());
            for (var f : LabOciLayout.busybox(BUSYBOX, busyboxApplets()).entrySet()) {
                tree.bytes("lab/oci-busybox/" + f.getKey(), f.getValue(), 0644);
            }
            for (Path tool : E2FSPROGS) {
                tree.file(tool.toString(), tool);
                dynamic.add(tool);
            }
            if (Files.isRegularFile(MKE2FS_CONF)) {
                tree.file(MKE2FS_CONF.toString(), MKE2FS_CONF);
            }
            if (spec.withQemu()) {
                tree.file("lab/qemu/bin/qemu-system-x86_64", QEMU);
                tree.file("lab/qemu/share/bios-microvm.bin", QEMU_DATA.resolve("bios-microvm.bin"));
                tree.link("usr/bin/qemu-system-x86_64", "/lab/qemu/bin/qemu-system-x86_64");
                // why: QEMU relocates its data directory next to its binary: /lab/qemu/share/qemu
                tree.link("lab/qemu/share/qemu/bios-microvm.bin", "/lab/qemu/share/bios-microvm.bin");
                dynamic.add(QEMU);
            }
            for (Path lib : HostTools.sharedLibraries(dynamic)) {
                if (lib.normalize().startsWith(jre.toAbsolutePath())) {
                    continue; // the runtime's own libraries (found through $ORIGIN) are already in /jre
                }
                if (!tree.contains(lib.toString())) {
                    tree.file(lib.toString(), lib);
                }
            }

            MessageDigest sha = sha256();
            sha.update(("lab image format " + FORMAT + "\n").getBytes(StandardCharsets.UTF_8));
            tree.digest(sha);
            String key = HexFormat.of().formatHex(sha.digest(), 0, 8);
            Path target = spec.cacheDir().resolve("outer-" + key + ".cpio");
            if (Files.isRegularFile(target)) {
                return target;
            }
            Path staged = spec.cacheDir().resolve("outer-" + key + ".cpio.tmp-" + ProcessHandle.current().pid());
            try {
                tree.write(staged);
                publish(staged, target);
            } finally {
                Files.deleteIfExists(staged);
            }
            removeOtherImages(spec.cacheDir(), target);
            return target;
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.STORAGE, "Cannot build the lab image in " + spec.cacheDir() + ": " + e, e);
        }
    }

    /**
     * The lab directory {@link LabInside} reads, on this host's file system: for hosts whose own
     * {@code /dev/kvm} boots Linux, where the phases run directly without the outer guest.
     */
    public static Path directLabDir(GuestKernel kernel, Path cacheDir) {
        try {
            Path dir = Files.createDirectories(cacheDir.resolve("direct"));
            Spec spec = new Spec(kernel, Path.of(System.getProperty("java.home")), List.of(dir), false, cacheDir);
            Files.copy(kernel.vmlinuz(), dir.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
            Files.write(dir.resolve("marker.cpio.gz"), markerInitramfs());
            Files.copy(boxInitramfs(spec), dir.resolve("box-initramfs.cpio.gz"), StandardCopyOption.REPLACE_EXISTING);
            Files.copy(boxDisk(cacheDir), dir.resolve("box.ext4"), StandardCopyOption.REPLACE_EXISTING);
            Files.deleteIfExists(dir.resolve("kernel"));
            Files.createSymbolicLink(dir.resolve("kernel"), kernel.dir());
            Path layout = dir.resolve("oci-busybox");
            deleteTree(layout);
            for (var f : LabOciLayout.busybox(BUSYBOX, busyboxApplets()).entrySet()) {
                Files.createDirectories(layout.resolve(f.getKey()).getParent());
                Files.write(layout.resolve(f.getKey()), f.getValue());
            }
            return dir;
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.STORAGE, "Cannot prepare the lab files in " + cacheDir + ": " + e, e);
        }
    }

    /**
     * The guest kernel as {@code GuestKernel.load} reads it, at {@code lab/kernel}: its descriptor,
     * the image (a link to {@code /lab/vmlinuz}), {@code modules.dep} and the box modules' closure.
     */
    private static void kernelDir(ImageTree tree, GuestKernel kernel) throws IOException {
        tree.file("lab/kernel/" + GuestKernel.DESCRIPTOR, kernel.dir().resolve(GuestKernel.DESCRIPTOR));
        Path image = kernel.dir().relativize(kernel.vmlinuz());
        tree.link("lab/kernel/" + image, "/lab/vmlinuz");
        String modules = "lab/kernel/" + kernel.dir().relativize(kernel.modulesDir());
        tree.file(modules + "/modules.dep", kernel.modulesDir().resolve("modules.dep"));
        for (Path m : KernelModules.read(kernel.modulesDir()).loadOrder(Initramfs.BOX_MODULES)) {
            tree.file(modules + "/" + kernel.modulesDir().relativize(m), m);
        }
    }

    /** busybox's applets, one link each in a box root. */
    static List<String> busyboxApplets() {
        return HostTools.run(List.of(BUSYBOX.toString(), "--list"), 30).lines().map(String::strip)
                .filter(a -> !a.isEmpty() && !a.equals("busybox")).toList();
    }

    /** The outer guest's init: load KVM, check /dev/kvm, run the phases named on the kernel command line. */
    static String outerInit() {
        return """
                #!/bin/busybox sh
                /bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
                /bin/busybox --install -s
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev
                mount -t tmpfs tmpfs /tmp
                echo "LAB-OUTER up at $(cut -d' ' -f1 /proc/uptime) s"
                for m in $(cat /etc/lab/modules); do
                    insmod "$m" || echo "LAB-OUTER insmod $m failed"
                done
                if [ -c /dev/kvm ]; then echo "LAB-OUTER kvm ok"; else echo "LAB-OUTER kvm missing"; fi
                phases=$(sed -n 's/.*boxlite\\.lab=\\([^ ]*\\).*/\\1/p' /proc/cmdline | tr ',' ' ')
                echo "LAB-OUTER phases: $phases"
                /jre/bin/java --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \\
                    -Djava.io.tmpdir=/tmp -cp "$(cat /etc/lab/classpath)" io.boxlite.lab.LabInside /lab $phases
                echo "LAB-OUTER inside exited with $? at $(cut -d' ' -f1 /proc/uptime) s"
                echo "LAB-DONE"
                poweroff -f
                """;
    }

    /** busybox as /init: mount /proc, print the marker with the CPU count, reboot. gzip. */
    static byte[] markerInitramfs() throws IOException {
        String init = """
                #!/bin/busybox sh
                /bin/busybox mount -t proc proc /proc
                echo "%s cpus=$(/bin/busybox grep -c ^processor /proc/cpuinfo)"
                /bin/busybox reboot -f
                """.formatted(InnerBoot.MARKER);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes); CpioWriter cpio = new CpioWriter(gz)) {
            cpio.file("init", 0755, init.getBytes(StandardCharsets.UTF_8));
            cpio.directory("bin", 0755);
            cpio.file("bin/busybox", 0755, Files.readAllBytes(BUSYBOX));
            cpio.directory("proc", 0755);
            cpio.directory("dev", 0755);
            cpio.finish();
        }
        return bytes.toByteArray();
    }

    private static Path boxInitramfs(Spec spec) {
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(spec.cacheDir().resolve("home")).build()).open();
        return Initramfs.forBoxes(spec.kernel(), GuestAgentBinary.bytes()).build(home);
    }

    /** A 32 MiB ext4 root: busybox as every command, passwd and group; made by mke2fs -d. */
    static Path boxDisk(Path cacheDir) throws IOException {
        MessageDigest sha = sha256();
        sha.update(Files.readAllBytes(BUSYBOX));
        Path target = cacheDir.resolve("box-" + HexFormat.of().formatHex(sha.digest(), 0, 6) + ".ext4");
        if (Files.isRegularFile(target)) {
            return target;
        }
        Path work = Files.createTempDirectory(cacheDir, "box-disk");
        try {
            Path root = Files.createDirectories(work.resolve("root"));
            for (String d : List.of("bin", "etc", "proc", "sys", "dev", "tmp", "run", "root")) {
                Files.createDirectories(root.resolve(d));
            }
            Files.copy(BUSYBOX, root.resolve("bin/busybox"));
            for (String applet : busyboxApplets()) {
                Files.createSymbolicLink(root.resolve("bin").resolve(applet), Path.of("busybox"));
            }
            Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
            Files.writeString(root.resolve("etc/group"), "root:x:0:\n");
            Path image = work.resolve("box.ext4");
            HostTools.run(List.of(MKE2FS.toString(), "-q", "-t", "ext4", "-d", root.toString(), image.toString(), "32M"), 120);
            publish(image, target);
            return target;
        } finally {
            deleteTree(work);
        }
    }

    /** jlink's output for this JDK and module list, cached; with a CDS archive for a faster JVM start. */
    static Path jre(Spec spec) throws IOException {
        Path release = spec.javaHome().resolve("release");
        if (!Files.isRegularFile(release) || !Files.isExecutable(spec.javaHome().resolve("bin/jlink"))) {
            throw new BoxliteException(ErrorCode.CONFIG, spec.javaHome() + " is not a JDK with jlink; the lab needs JDK 25");
        }
        MessageDigest sha = sha256();
        sha.update(Files.readAllBytes(release));
        sha.update(String.join(",", JRE_MODULES).getBytes(StandardCharsets.UTF_8));
        Path target = spec.cacheDir().resolve("jre-" + HexFormat.of().formatHex(sha.digest(), 0, 6));
        if (Files.isDirectory(target)) {
            return target;
        }
        Path staged = spec.cacheDir().resolve(target.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        deleteTree(staged);
        try {
            HostTools.run(List.of(spec.javaHome().resolve("bin/jlink").toString(), "--add-modules",
                    String.join(",", JRE_MODULES), "--strip-debug", "--no-header-files", "--no-man-pages",
                    "--generate-cds-archive", "--output", staged.toString()), 600);
            try {
                Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                // another build won the race; use its runtime
            }
            return target;
        } finally {
            deleteTree(staged);
        }
    }

    private static void publish(Path staged, Path target) throws IOException {
        try {
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + staged + " to " + target + " atomically", e);
        }
    }

    private static void removeOtherImages(Path cacheDir, Path keep) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(cacheDir, "outer-*.cpio")) {
            long cutoff = System.currentTimeMillis() - java.util.concurrent.TimeUnit.HOURS.toMillis(1);
            for (Path p : ds) {
                // each image is ~170 MB: keep the current one, and others that a concurrent lab may still boot
                if (!p.equals(keep) && Files.getLastModifiedTime(p).toMillis() < cutoff) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is always available", e);
        }
    }
}
