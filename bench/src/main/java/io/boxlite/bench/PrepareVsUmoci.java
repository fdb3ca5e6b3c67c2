package io.boxlite.bench;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.registry.ImagePuller;
import io.boxlite.oci.registry.PullListener;
import io.boxlite.oci.registry.RegistryOptions;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import io.boxlite.rootfs.Rootfs;
import io.boxlite.rootfs.RootfsBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Pull + prepare of an image from a local registry: BoxLite (ImagePuller into a fresh home,
 * then RootfsBuilder: layers → ext4 with the debugfs pass and e2fsck) against the tools
 * (skopeo copy docker:// → oci:, umoci unpack, mke2fs -t ext4 -d at the same size), on the
 * same image in the same run, alternating. Prints medians and min–max in milliseconds.
 *
 * <p>Usage: {@code bench/run rootfs [iterations] [oci-layout-dir:tag]}; the default image is
 * the Debian python fixture that {@code DebianRootfsTest} caches under
 * {@code ~/.cache/boxlite-fixtures}. Needs root (umoci unpack keeps owners only as root),
 * docker-registry, skopeo, umoci, e2fsprogs.
 */
public final class PrepareVsUmoci {
    public static void main(String[] args) throws Exception {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        String source = args.length > 1 ? args[1] : defaultFixture() + ":debian-python";
        Path work = Files.createTempDirectory("boxlite-rootfs-bench-");
        int port;
        try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        Path config = work.resolve("config.yml");
        Files.writeString(config, "version: 0.1\nlog:\n  level: error\n  accesslog:\n"
                + "    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: "
                + work.resolve("data") + "\nhttp:\n  addr: 127.0.0.1:" + port + "\n");
        Process registry = new ProcessBuilder("docker-registry", "serve", config.toString())
                .redirectErrorStream(true).redirectOutput(work.resolve("registry.log").toFile())
                .start();
        try {
            BenchSupport.waitForRegistry(port);
            String image = "127.0.0.1:" + port + "/bench/python:1";
            BenchSupport.run("skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                    "oci:" + source, "docker://" + image);
            var ours = new ArrayList<Double>();
            var oursPull = new ArrayList<Double>();
            var oursBuild = new ArrayList<Double>();
            var tools = new ArrayList<Double>();
            var toolsCopy = new ArrayList<Double>();
            var toolsUnpack = new ArrayList<Double>();
            var toolsMkfs = new ArrayList<Double>();
            long size = 0;
            for (int i = -1; i < iterations; i++) { // why: round -1 warms up JIT and page cache
                double[] a = ours(work.resolve("home-" + i), image);
                size = (long) a[3];
                double[] b = tools(work.resolve("tools-" + i), image, size);
                if (i >= 0) {
                    ours.add(a[0]);
                    oursPull.add(a[1]);
                    oursBuild.add(a[2]);
                    tools.add(b[0]);
                    toolsCopy.add(b[1]);
                    toolsUnpack.add(b[2]);
                    toolsMkfs.add(b[3]);
                }
            }
            System.out.println("pull + prepare of " + source + " from a local docker-registry "
                    + "2.8, " + iterations + " runs each, alternating (ms); ext4 size "
                    + (size >> 20) + " MiB");
            System.out.println(BenchSupport.summary("boxlite pull + RootfsBuilder       ", ours));
            System.out.println(BenchSupport.summary("  pull (fresh home)                ", oursPull));
            System.out.println(BenchSupport.summary("  rootfs build (layers->ext4+fsck) ", oursBuild));
            System.out.println(BenchSupport.summary("skopeo copy + umoci unpack + mke2fs", tools));
            System.out.println(BenchSupport.summary("  skopeo copy                      ", toolsCopy));
            System.out.println(BenchSupport.summary("  umoci unpack                     ", toolsUnpack));
            System.out.println(BenchSupport.summary("  mke2fs -t ext4 -d                ", toolsMkfs));
        } finally {
            registry.destroy();
            registry.waitFor(10, TimeUnit.SECONDS);
            delete(work);
        }
    }

    private static double[] ours(Path home, String image) throws IOException {
        long start = System.nanoTime();
        try (var store = ImageStore.open(BoxliteHome.resolve(
                Options.builder().home(home).build()))) {
            ImageRecord record = new ImagePuller(store, RegistryOptions.defaults())
                    .pull(ImageReference.parse(image), PullListener.NONE);
            long pulled = System.nanoTime();
            Rootfs rootfs = RootfsBuilder.create(store).build(record);
            long end = System.nanoTime();
            double[] result = {(end - start) / 1e6, (pulled - start) / 1e6, (end - pulled) / 1e6,
                rootfs.size()};
            delete(home);
            return result;
        }
    }

    private static double[] tools(Path dir, String image, long size) throws Exception {
        Files.createDirectories(dir);
        long start = System.nanoTime();
        BenchSupport.run("skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                "docker://" + image, "oci:" + dir.resolve("layout") + ":python");
        long copied = System.nanoTime();
        BenchSupport.run("umoci", "unpack", "--image", dir.resolve("layout") + ":python",
                dir.resolve("bundle").toString());
        long unpacked = System.nanoTime();
        Path img = dir.resolve("rootfs.ext4");
        try (var file = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            file.setLength(size);
        }
        BenchSupport.run("/usr/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0",
                "-E", "root_owner=0:0", "-d", dir.resolve("bundle/rootfs").toString(),
                img.toString());
        long end = System.nanoTime();
        delete(dir);
        return new double[] {(end - start) / 1e6, (copied - start) / 1e6,
            (unpacked - copied) / 1e6, (end - unpacked) / 1e6};
    }

    private static String defaultFixture() throws IOException {
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "boxlite-fixtures");
        try (Stream<Path> dirs = Files.list(cache)) {
            return dirs.filter(d -> d.getFileName().toString().matches("debian-python-[0-9a-f]{16}"))
                    .map(d -> d.resolve("layout")).filter(Files::isDirectory).findFirst()
                    .orElseThrow(() -> new IllegalStateException("No Debian python fixture in "
                            + cache + ": run DebianRootfsTest once (it builds it), or pass "
                            + "an OCI layout as LAYOUT:TAG"))
                    .toString();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalStateException("No " + cache + ": run DebianRootfsTest once", e);
        }
    }

    private static void delete(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
