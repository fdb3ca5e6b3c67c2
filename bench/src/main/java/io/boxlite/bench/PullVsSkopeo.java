package io.boxlite.bench;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.registry.ImagePuller;
import io.boxlite.oci.registry.PullListener;
import io.boxlite.oci.registry.RegistryOptions;
import io.boxlite.oci.store.ImageStore;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Pull time of a busybox image from a local registry: BoxLite's puller (in this warm JVM, into
 * a fresh home each time) against {@code skopeo copy docker://… oci:…} (a process each time),
 * in the same run, alternating. Prints medians and min–max in milliseconds.
 *
 * <p>Needs docker-registry, skopeo, umoci (bin/setup) and /bin/busybox. Usage:
 * {@code bench/run pull [iterations]}.
 */
public final class PullVsSkopeo {
    private static final List<String> APPLETS = List.of("sh", "ls", "cat", "echo", "env");

    public static void main(String[] args) throws Exception {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        Path work = Files.createTempDirectory("boxlite-pull-bench-");
        Path layout = work.resolve("layout");
        BenchSupport.run("umoci", "init", "--layout", layout.toString());
        BenchSupport.run("umoci", "new", "--image", layout + ":busybox");
        Path bundle = work.resolve("bundle");
        BenchSupport.run("umoci", "unpack", "--image", layout + ":busybox", bundle.toString());
        Path bin = Files.createDirectories(bundle.resolve("rootfs/bin"));
        Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
        for (String applet : APPLETS) {
            Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
        }
        BenchSupport.run("umoci", "repack", "--image", layout + ":busybox", bundle.toString());

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
            String image = "127.0.0.1:" + port + "/bench/busybox:1";
            BenchSupport.run("skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
                    "oci:" + layout + ":busybox", "docker://" + image);
            var ours = new ArrayList<Double>();
            var opened = new ArrayList<Double>();
            var skopeo = new ArrayList<Double>();
            for (int i = -3; i < iterations; i++) {
                double a = pullOurs(work.resolve("home-" + i), image);
                double b = pullSkopeo(work.resolve("skopeo-" + i), image);
                double c = pullIntoOpenStore(work.resolve("open-" + i), image);
                if (i >= 0) { // why: the first three warm up the JIT and the page cache
                    ours.add(a);
                    skopeo.add(b);
                    opened.add(c);
                }
            }
            System.out.println("busybox image pull from a local docker-registry 2.8, "
                    + iterations + " runs each, alternating (ms)");
            System.out.println(BenchSupport.summary("boxlite ImagePuller (warm JVM)", ours));
            System.out.println(BenchSupport.summary("  of which pull into open store", opened));
            System.out.println(BenchSupport.summary("skopeo copy docker:// -> oci: ", skopeo));
        } finally {
            registry.destroy();
            registry.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static double pullOurs(Path home, String image) {
        long start = System.nanoTime();
        try (var store = ImageStore.open(BoxliteHome.resolve(
                Options.builder().home(home).build()))) {
            new ImagePuller(store, RegistryOptions.defaults())
                    .pull(ImageReference.parse(image), PullListener.NONE);
        }
        return (System.nanoTime() - start) / 1e6;
    }

    private static double pullIntoOpenStore(Path home, String image) {
        try (var store = ImageStore.open(BoxliteHome.resolve(
                Options.builder().home(home).build()))) {
            long start = System.nanoTime();
            new ImagePuller(store, RegistryOptions.defaults())
                    .pull(ImageReference.parse(image), PullListener.NONE);
            return (System.nanoTime() - start) / 1e6;
        }
    }

    private static double pullSkopeo(Path dir, String image) throws Exception {
        long start = System.nanoTime();
        BenchSupport.run("skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false",
                "docker://" + image, "oci:" + dir + ":busybox");
        return (System.nanoTime() - start) / 1e6;
    }

}
