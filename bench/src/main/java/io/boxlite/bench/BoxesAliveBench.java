package io.boxlite.bench;

import io.boxlite.Box;
import io.boxlite.BoxCommand;
import io.boxlite.BoxInfo;
import io.boxlite.BoxOptions;
import io.boxlite.Boxlite;
import io.boxlite.Options;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.store.ImageStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Boxes alive at once on the QEMU engine, and the host memory each extra running box costs
 * beyond the guest RAM it actually touched.
 *
 * <p>Starts boxes one by one on a fresh home (the local busybox image, {@code memoryMib} each)
 * until one fails, the count cap is reached, or the memory budget (a quarter of the host's
 * MemAvailable at the start) would be exceeded at the cost measured so far. Then every box must
 * answer an exec while all run. Per box it reads {@code /proc/PID/smaps_rollup} (PSS and RSS) of
 * the box's host JVM and its QEMU, and the RSS of QEMU's guest-RAM mapping (the memfd of
 * {@code memoryMib}: the guest RAM actually touched). Host cost beyond guest RAM =
 * host JVM PSS + QEMU PSS − guest RAM touched; PSS splits the shared guest RAM between QEMU and
 * the JVM's vhost-user back ends, so it is counted once.
 *
 * <p>Usage: {@code bench/run boxes [cap] [memoryMib] [detached|inprocess]} (defaults 12, 256,
 * detached). In-process, all boxes share this JVM; its PSS growth per box is the host cost.
 */
public final class BoxesAliveBench {
    private static final long KIB = 1024;

    private BoxesAliveBench() {
    }

    record Sample(String id, double startSeconds, long hostPss, long hostRss, long qemuPss, long qemuRss,
                  long guestTouched) {
    }

    public static void main(String[] args) throws Exception {
        int cap = args.length > 0 ? Integer.parseInt(args[0]) : 12;
        int memoryMib = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        boolean detached = args.length <= 2 || !args[2].equals("inprocess");
        Path dir = Files.createTempDirectory("boxlite-boxes-bench-");
        Path layout = dir.resolve("layout");
        BenchSupport.run(Path.of(System.getProperty("boxlite.root", "..")).resolve("bin/build-local-image")
                .toString(), layout.toString());
        Options options = Options.builder().home(dir.resolve("home")).build();
        long availableAtStart = meminfo("MemAvailable");
        long budget = availableAtStart / 4;
        System.out.printf(Locale.ROOT, "mode %s, guest %d MiB, cap %d boxes, memory budget %d MiB "
                        + "(a quarter of MemAvailable %d MiB), load %s%n", detached ? "detached" : "in-process",
                memoryMib, cap, budget >> 20, availableAtStart >> 20, Files.readString(Path.of("/proc/loadavg")).strip());
        List<Box> boxes = new ArrayList<>();
        List<Sample> samples = new ArrayList<>();
        try (Boxlite runtime = Boxlite.open(options)) {
            try (ImageStore store = ImageStore.open(runtime.core().home())) {
                store.importer().importLayout(layout, Optional.empty(),
                        Optional.of(ImageReference.parse("localhost/busybox:latest")), Platform.host());
            }
            long selfBase = detached ? 0 : rollup(ProcessHandle.current().pid(), "Pss");
            try {
                measure(runtime, boxes, samples, cap, memoryMib, detached, budget, selfBase);
            } finally {
                // why: detached boxes outlive this JVM; never leave them running on a shared machine
                for (Box b : boxes) {
                    try {
                        b.stop();
                    } catch (RuntimeException e) {
                        System.out.println("stopping " + b.id() + ": " + e.getMessage());
                    }
                }
            }
        }
    }

    private static void measure(Boxlite runtime, List<Box> boxes, List<Sample> samples, int cap, int memoryMib,
                                boolean detached, long budget, long selfBase) throws Exception {
        String stop = "cap of " + cap + " reached";
        while (boxes.size() < cap) {
            if (!samples.isEmpty()) {
                long perBox = samples.stream().mapToLong(s -> s.hostPss() + s.qemuPss()).max().orElseThrow();
                if ((boxes.size() + 1) * perBox * 3 / 2 > budget) {
                    stop = "memory budget: the next box would pass " + (budget >> 20) + " MiB at 1.5× the cost so far";
                    break;
                }
            }
            BoxOptions o = BoxOptions.builder().image("localhost/busybox").memoryMib(memoryMib).detach(detached)
                    .autoRemove(true).build();
            long t0 = System.nanoTime();
            Box box;
            try {
                box = runtime.create(o);
                boxes.add(box);
                box.start();
            } catch (RuntimeException e) {
                stop = "box " + (boxes.size()) + " failed: " + e.getMessage();
                break;
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            BoxInfo info = box.info();
            long qemu = runtime.core().enginePid(box.id()).orElseThrow();
            long host = info.pid().orElseThrow();
            Sample s = detached
                    ? new Sample(box.id(), seconds, rollup(host, "Pss"), rollup(host, "Rss"), rollup(qemu, "Pss"),
                            rollup(qemu, "Rss"), guestRamResident(qemu, memoryMib))
                    : inProcess(box.id(), seconds, selfBase, samples, qemu, memoryMib);
            samples.add(s);
            System.out.printf(Locale.ROOT, "box %2d  start %5.1f s  host PSS %4d MiB RSS %4d MiB  "
                            + "QEMU PSS %4d MiB RSS %4d MiB  guest RAM touched %4d MiB  beyond it %4d MiB%n",
                    boxes.size(), seconds, s.hostPss() >> 20, s.hostRss() >> 20, s.qemuPss() >> 20,
                    s.qemuRss() >> 20, s.guestTouched() >> 20, beyond(s) >> 20);
        }
        System.out.println("stopped starting: " + stop);
        int answered = 0;
        List<Double> execMs = new ArrayList<>();
        for (Box b : boxes) {
            long t0 = System.nanoTime();
            try (var run = b.exec(BoxCommand.of("cat", "/proc/uptime"))) {
                run.stdout().readAllBytes();
                if (run.waitFor().exitCode() == 0) {
                    answered++;
                    execMs.add((System.nanoTime() - t0) / 1e6);
                }
            } catch (RuntimeException e) {
                System.out.println("box " + b.id() + " did not answer: " + e.getMessage());
            }
        }
        System.out.printf(Locale.ROOT, "boxes alive at once: %d, %d answered an exec while all ran%n",
                boxes.size(), answered);
        if (!execMs.isEmpty()) {
            System.out.println(BenchSupport.summary("exec cat /proc/uptime, all running (ms)", execMs));
        }
        System.out.println("load with all running (1/5/15 min): " + Files.readString(Path.of("/proc/loadavg")).strip());
        idleCpu(runtime, samples, detached);
        // why: PSS shares the JVMs' and QEMUs' common pages among all running; resample with all up
        List<Sample> steady = new ArrayList<>();
        long selfGrowth = detached ? 0 : (rollup(ProcessHandle.current().pid(), "Pss") - selfBase)
                / Math.max(1, boxes.size());
        for (Sample s : samples) {
            long qemu = runtime.core().enginePid(s.id()).orElseThrow();
            long host = detached ? runtime.get(s.id()).orElseThrow().info().pid().orElseThrow()
                    : ProcessHandle.current().pid();
            steady.add(new Sample(s.id(), s.startSeconds(), detached ? rollup(host, "Pss") : selfGrowth,
                    rollup(host, "Rss"), rollup(qemu, "Pss"), rollup(qemu, "Rss"), guestRamResident(qemu, memoryMib)));
        }
        System.out.println("with all " + steady.size() + " running" + (detached ? ""
                : " (host JVM PSS = this JVM's PSS growth per box)") + ":");
        report(steady);
    }

    /** CPU the idle boxes burn (QEMU under TCG, plus detached host JVMs), over 10 s, in % of one core. */
    private static void idleCpu(Boxlite runtime, List<Sample> samples, boolean detached) throws Exception {
        List<Long> pids = new ArrayList<>();
        for (Sample s : samples) {
            pids.add(runtime.core().enginePid(s.id()).orElseThrow());
            if (detached) {
                pids.add(runtime.get(s.id()).orElseThrow().info().pid().orElseThrow());
            }
        }
        long before = cpuTicks(pids);
        long t0 = System.nanoTime();
        Thread.sleep(10_000);
        double seconds = (System.nanoTime() - t0) / 1e9;
        double percent = (cpuTicks(pids) - before) / 100.0 / seconds * 100; // USER_HZ is 100 on Linux
        System.out.printf(Locale.ROOT, "idle CPU of %d boxes: %.1f%% of one core in total (%.1f%% per box)%n",
                samples.size(), percent, percent / Math.max(1, samples.size()));
    }

    private static long cpuTicks(List<Long> pids) throws IOException {
        long ticks = 0;
        for (long pid : pids) {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
        }
        return ticks;
    }

    private static Sample inProcess(String id, double seconds, long selfBase, List<Sample> before, long qemu,
                                    int memoryMib) throws IOException {
        long self = rollup(ProcessHandle.current().pid(), "Pss");
        long previous = selfBase + before.stream().mapToLong(Sample::hostPss).sum();
        long selfRss = rollup(ProcessHandle.current().pid(), "Rss");
        return new Sample(id, seconds, self - previous, selfRss, rollup(qemu, "Pss"), rollup(qemu, "Rss"),
                guestRamResident(qemu, memoryMib));
    }

    private static long beyond(Sample s) {
        return s.hostPss() + s.qemuPss() - s.guestTouched();
    }

    private static void report(List<Sample> samples) {
        if (samples.isEmpty()) {
            return;
        }
        System.out.println(BenchSupport.summary("start (s)", samples.stream().map(Sample::startSeconds).toList()));
        System.out.println(BenchSupport.summary("host JVM PSS (MiB)", mib(samples, Sample::hostPss)));
        System.out.println(BenchSupport.summary("host JVM RSS (MiB)", mib(samples, Sample::hostRss)));
        System.out.println(BenchSupport.summary("QEMU PSS (MiB)", mib(samples, Sample::qemuPss)));
        System.out.println(BenchSupport.summary("QEMU RSS (MiB)", mib(samples, Sample::qemuRss)));
        System.out.println(BenchSupport.summary("guest RAM touched (MiB)", mib(samples, Sample::guestTouched)));
        System.out.println(BenchSupport.summary("host cost beyond guest RAM (MiB)", mib(samples, BoxesAliveBench::beyond)));
        System.out.println(BenchSupport.summary("QEMU PSS beyond guest RAM (MiB)",
                mib(samples, s -> s.qemuPss() - s.guestTouched())));
    }

    private static List<Double> mib(List<Sample> samples, java.util.function.ToLongFunction<Sample> f) {
        return samples.stream().map(s -> f.applyAsLong(s) / (double) (1 << 20)).toList();
    }

    /** A field of /proc/PID/smaps_rollup, in bytes. */
    static long rollup(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
            if (line.startsWith(field + ":")) {
                return kib(line) * KIB;
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/" + pid + "/smaps_rollup");
    }

    /** The resident size of QEMU's guest-RAM mapping (the memfd of {@code memoryMib}). */
    static long guestRamResident(long pid, int memoryMib) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps"));
        long want = memoryMib * KIB;
        long rss = -1;
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            if (l.startsWith("Size:") && kib(l) == want && lines.get(i - 1).contains("memfd:")) {
                for (int j = i + 1; j < lines.size() && !lines.get(j).matches("^[0-9a-f]+-[0-9a-f]+ .*"); j++) {
                    if (lines.get(j).startsWith("Rss:")) {
                        rss = Math.max(rss, kib(lines.get(j)) * KIB);
                    }
                }
            }
        }
        if (rss < 0) {
            throw new IllegalStateException("no " + memoryMib + " MiB memfd mapping in /proc/" + pid + "/smaps");
        }
        return rss;
    }

    private static long kib(String line) {
        String[] parts = line.trim().split("\\s+");
        return Long.parseLong(parts[1]);
    }

    static long meminfo(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith(field + ":")) {
                return kib(line) * KIB;
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/meminfo");
    }
}
