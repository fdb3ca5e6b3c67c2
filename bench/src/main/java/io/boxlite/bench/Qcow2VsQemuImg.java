package io.boxlite.bench;

import io.boxlite.disk.qcow2.Qcow2Image;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Our qcow2 engine against QEMU's on the same file and the same workload, in one run:
 * {@code qemu-img bench -f qcow2 -t writeback -d 1} (sequential requests at queue depth 1) and
 * the same sequence of requests issued by one platform thread through {@link Qcow2Image}, rounds
 * alternating. The image (1 GiB virtual, 64 KiB clusters) is made by our engine and its first
 * 256 MiB filled first, so both measure the mapping path over allocated clusters, not allocation.
 *
 * <p>Usage: {@code bench/run qcow2-host [rounds]}. Prints µs per request, medians and min–max, and
 * the speed ratio ours/QEMU.
 */
public final class Qcow2VsQemuImg {
    private static final long MIB = 1 << 20;
    private static final long WORKING_SET = 256 * MIB;

    private record Workload(String name, int size, int count, boolean write) {
    }

    private static final List<Workload> WORKLOADS = List.of(
            new Workload("sequential read 4 KiB", 4096, 20_000, false),
            new Workload("sequential write 4 KiB", 4096, 20_000, true),
            new Workload("sequential read 1 MiB", 1 << 20, 256, false),
            new Workload("sequential write 1 MiB", 1 << 20, 256, true));

    private Qcow2VsQemuImg() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        Path dir = Files.createTempDirectory("qcow2-vs-qemu-img");
        Path image = dir.resolve("bench.qcow2");
        Qcow2Image.create(image, 4 * WORKING_SET, Qcow2Image.DEFAULT_CLUSTER_SIZE);
        try (Qcow2Image img = Qcow2Image.open(image)) {
            ByteBuffer fill = ByteBuffer.allocateDirect((int) MIB);
            for (long at = 0; at < WORKING_SET; at += MIB) {
                img.write(at, fill.clear());
            }
            img.flush();
        }
        System.out.println("image: " + image + " (1 GiB virtual, first 256 MiB allocated); qemu-img "
                + version() + "; " + rounds + " rounds, alternating, after one warm-up round each");
        for (Workload w : WORKLOADS) {
            List<Double> ours = new ArrayList<>();
            List<Double> qemu = new ArrayList<>();
            for (int r = -1; r < rounds; r++) { // round -1 warms up both (the JIT, the page cache)
                double o = ours(image, w);
                double q = qemuImg(image, w);
                if (r >= 0) {
                    ours.add(o);
                    qemu.add(q);
                }
            }
            double mo = median(ours);
            double mq = median(qemu);
            System.out.println(BenchSupport.summary(String.format(Locale.ROOT, "%-24s ours    µs/request", w.name()), ours));
            System.out.println(BenchSupport.summary(String.format(Locale.ROOT, "%-24s qemu-img µs/request", w.name()), qemu));
            System.out.printf(Locale.ROOT, "%-24s speed ours/QEMU (medians): %.2f%n", w.name(), mq / mo);
        }
    }

    /** µs per request through our engine: the same offsets, sizes and order as qemu-img bench. */
    private static double ours(Path image, Workload w) {
        ByteBuffer buf = ByteBuffer.allocateDirect(w.size());
        long t0;
        long elapsed;
        try (Qcow2Image img = Qcow2Image.open(image)) {
            t0 = System.nanoTime();
            long offset = 0;
            for (int i = 0; i < w.count(); i++) {
                buf.clear();
                if (w.write()) {
                    img.write(offset, buf);
                } else {
                    img.read(offset, buf);
                }
                offset += w.size();
                if (offset + w.size() > WORKING_SET) {
                    offset = 0;
                }
            }
            elapsed = System.nanoTime() - t0;
        }
        return elapsed / 1e3 / w.count();
    }

    /** µs per request as qemu-img bench reports its run time ("Run completed in N seconds."). */
    private static double qemuImg(Path image, Workload w) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "bench", "-f", "qcow2", "-t", "writeback", "-d", "1",
                "-c", Integer.toString(w.count()), "-s", Integer.toString(w.size()), "-S", Integer.toString(w.size())));
        if (w.write()) {
            cmd.add("-w");
        }
        cmd.add(image.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
        }
        String marker = "Run completed in ";
        int at = out.indexOf(marker);
        if (at < 0) {
            throw new IllegalStateException("no run time in qemu-img bench output:\n" + out);
        }
        double seconds = Double.parseDouble(out.substring(at + marker.length()).split(" ")[0]);
        return seconds * 1e6 / w.count();
    }

    private static String version() throws Exception {
        Process p = new ProcessBuilder("qemu-img", "--version").redirectErrorStream(true).start();
        String v = new String(p.getInputStream().readAllBytes()).lines().findFirst().orElse("?");
        p.waitFor();
        return v;
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(Comparator.naturalOrder());
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
}
