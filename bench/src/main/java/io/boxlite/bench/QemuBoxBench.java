package io.boxlite.bench;

import io.boxlite.Options;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.Execution;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.disk.DiskImage;
import io.boxlite.disk.RawDiskImage;
import io.boxlite.disk.qcow2.BackingFormat;
import io.boxlite.disk.qcow2.Qcow2Image;
import io.boxlite.engine.qemu.QemuGuest;
import io.boxlite.guest.Initramfs;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The QEMU engine measured from the host, in one guest: exec round trip of {@code true},
 * stdout throughput through the agent and virtio-vsock, and in-guest {@code dd} through our
 * vhost-user-blk ({@code /dev/vda}) beside QEMU's built-in virtio-blk ({@code /dev/vdb}) on
 * files of the same kind on the same filesystem, rounds interleaved. Block figures also give host
 * CPU (this JVM + QEMU) per MiB moved, since under TCG the emulated guest CPU dominates wall time.
 *
 * <p>Usage: {@code bench/run qemu-box [rounds] [raw|qcow2]}: with {@code qcow2} both devices use
 * qcow2 images (ours through our qcow2 engine, QEMU's through its own). Prints medians and min–max.
 */
public final class QemuBoxBench {
    private static final int MIB = 1 << 20;
    private static final int DD_MIB = 64;
    private static final int WARMUP_ROUNDS = 3;
    /** {@code BENCH_BLK_ONLY=1} skips the exec and stdout figures (for block-device work). */
    private static final boolean SKIP_EXEC = System.getenv("BENCH_BLK_ONLY") != null;

    private QemuBoxBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        boolean qcow2 = args.length > 1 && args[1].equals("qcow2");
        Path dir = Files.createTempDirectory("boxlite-bench-");
        GuestKernel kernel = GuestKernel.locate(Options.defaults());
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir.resolve("home")).build()).open();
        Path initramfs = Initramfs.of(kernel, GuestAgentBinary.bytes(), Initramfs.BOX_MODULES, Map.of()).build(home);
        Path root = busyboxRoot(dir);
        Path qemuDisk = dir.resolve(qcow2 ? "qemu-disk.qcow2" : "qemu-disk.raw");
        DiskImage rootDisk;
        if (qcow2) {
            // Both devices on qcow2 made by our engine: ours an overlay of the ext4 root, QEMU's a
            // fresh image; blocks past 256 MiB are allocated by the first write round in each.
            Path overlay = dir.resolve("root.qcow2");
            Qcow2Image.createOverlay(overlay, root.getFileName().toString(), BackingFormat.RAW, 512L * MIB);
            Qcow2Image.create(qemuDisk, 512L * MIB, Qcow2Image.DEFAULT_CLUSTER_SIZE);
            rootDisk = Qcow2Image.open(overlay);
        } else {
            try (var raf = new java.io.RandomAccessFile(qemuDisk.toFile(), "rw")) {
                raf.setLength(512L * MIB); // sparse, like the root image
            }
            rootDisk = RawDiskImage.open(root, false);
        }
        System.out.println("disk format: " + (qcow2 ? "qcow2" : "raw"));
        QemuGuest.Spec spec = new QemuGuest.Spec(Path.of("/usr/bin/qemu-system-x86_64"), false, 1, 512,
                kernel.vmlinuz(), initramfs, rootDisk, dir.resolve("box"), List.of(),
                List.of("-drive", "file=" + qemuDisk + ",format=" + (qcow2 ? "qcow2" : "raw") + ",if=none,id=qemublk,cache=writeback",
                        "-device", "virtio-blk-device,drive=qemublk"));
        long t0 = System.nanoTime();
        try (QemuGuest guest = QemuGuest.start(spec, reason -> { });
             AgentClient agent = guest.awaitAgent(Duration.ofMinutes(5))) {
            System.out.printf("boot to agent: %.1f s (TCG)%n", (System.nanoTime() - t0) / 1e9);
            try (Execution ls = agent.exec(ExecRequest.builder("sh", "-c", "ls /sys/block; cat /sys/block/vd*/size").build())) {
                System.out.println("guest block devices: " + new String(ls.stdout().readAllBytes()).replace('\n', ' '));
                ls.waitFor();
            }
            long qemuPid = guest.process().pid();

            if (!SKIP_EXEC) {
            double[] rtt = new double[50];
            run(agent, "true");
            for (int i = 0; i < rtt.length; i++) {
                long s = System.nanoTime();
                run(agent, "true");
                rtt[i] = (System.nanoTime() - s) / 1e6;
            }
            report("exec true round trip", rtt, "ms");

            double[] stdout = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                long s = System.nanoTime();
                long bytes = run(agent, "dd", "if=/dev/zero", "bs=1M", "count=" + DD_MIB);
                stdout[i] = bytes / (double) MIB / ((System.nanoTime() - s) / 1e9);
            }
            report("stdout throughput (64 MiB through agent + vsock)", stdout, "MiB/s");
            }

            // Past the 64 MiB filesystem on vda, and anywhere on vdb: raw blocks nobody uses.
            String[][] devices = {{"ours (vhost-user-blk)", "/dev/vda"}, {"QEMU virtio-blk", "/dev/vdb"}};
            // Unmeasured rounds first: without them the JIT compiling our device path is most of
            // this JVM's CPU (QEMU's C needs no warm-up), and the first writes allocate the files.
            for (int i = 0; i < WARMUP_ROUNDS; i++) {
                for (String op : List.of("write", "read")) {
                    for (String[] dev : devices) {
                        run(agent, dd(op, dev[1]));
                    }
                }
            }
            for (String op : List.of("write", "read")) {
                double[][] speed = new double[2][rounds];
                double[][] cpu = new double[2][rounds];
                double[] deviceThreads = new double[rounds];
                for (int i = 0; i < rounds; i++) {
                    for (int d = 0; d < 2; d++) {
                        long threads0 = deviceThreadTicks();
                        long cpu0 = hostCpuNanos(qemuPid);
                        long s = System.nanoTime();
                        run(agent, dd(op, devices[d][1]));
                        double seconds = (System.nanoTime() - s) / 1e9;
                        speed[d][i] = DD_MIB / seconds;
                        cpu[d][i] = (hostCpuNanos(qemuPid) - cpu0) / 1e6 / DD_MIB;
                        if (d == 0) {
                            deviceThreads[i] = (deviceThreadTicks() - threads0) * 10.0 / DD_MIB;
                        }
                    }
                }
                for (int d = 0; d < 2; d++) {
                    report("dd " + op + " " + devices[d][0], speed[d], "MiB/s");
                    report("   host CPU per MiB, " + devices[d][0], cpu[d], "ms");
                }
                report("   of which our device threads (10 ms ticks)", deviceThreads, "ms");
                System.out.printf("   ratio ours/QEMU (medians): %.2f%n", median(speed[0]) / median(speed[1]));
            }
            System.out.println("our device served: " + guest.diskMetrics());
        }
    }

    private static String[] dd(String op, String dev) {
        return op.equals("write")
                ? new String[] {"dd", "if=/dev/zero", "of=" + dev, "bs=1M", "seek=256", "count=" + DD_MIB, "oflag=direct"}
                : new String[] {"dd", "if=" + dev, "of=/dev/null", "bs=1M", "skip=256", "count=" + DD_MIB, "iflag=direct"};
    }

    /** CPU ticks (utime + stime, 10 ms each) of this JVM's device threads: the vhost-user loops and blk I/O. */
    private static long deviceThreadTicks() throws IOException {
        long sum = 0;
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : tasks.toList()) {
                try {
                    String stat = Files.readString(t.resolve("stat"));
                    String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                    if (name.startsWith("boxlite-vhost-d") || name.startsWith("boxlite-blk")) {
                        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        sum += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                    }
                } catch (IOException | StringIndexOutOfBoundsException gone) {
                    // the thread ended between listing and reading
                }
            }
        }
        return sum;
    }

    /** Runs a command, drains its output, returns the stdout byte count. */
    private static long run(AgentClient agent, String... argv) throws Exception {
        try (Execution e = agent.exec(ExecRequest.builder(argv).build())) {
            byte[][] stderr = new byte[1][];
            Thread err = Thread.ofVirtual().start(() -> {
                try {
                    stderr[0] = e.stderr().readAllBytes();
                } catch (IOException ex) {
                    stderr[0] = ex.toString().getBytes();
                }
            });
            long n = drain(e.stdout());
            err.join();
            int code = e.waitFor().exitCode();
            if (code != 0) {
                throw new IllegalStateException(String.join(" ", argv) + " exited with " + code + ": " + new String(stderr[0]));
            }
            return n;
        }
    }

    private static long drain(InputStream in) throws IOException {
        byte[] buf = new byte[1 << 16];
        long total = 0;
        for (int n; (n = in.read(buf)) > 0; ) {
            total += n;
        }
        return total;
    }

    /** CPU time of this JVM (the device back ends) plus QEMU's, in nanoseconds. */
    private static long hostCpuNanos(long qemuPid) throws IOException {
        long jvm = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
        String stat = Files.readString(Path.of("/proc/" + qemuPid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime
        return jvm + ticks * 10_000_000L; // USER_HZ = 100
    }

    private static Path busyboxRoot(Path dir) throws Exception {
        Path tree = Files.createDirectories(dir.resolve("tree/bin"));
        for (String d : List.of("etc", "proc", "sys", "dev", "tmp", "run", "root")) {
            Files.createDirectories(dir.resolve("tree").resolve(d));
        }
        Files.copy(Path.of("/bin/busybox"), tree.resolve("busybox"));
        Process list = new ProcessBuilder("/bin/busybox", "--list").start();
        for (String applet : new String(list.getInputStream().readAllBytes()).split("\n")) {
            if (!applet.isBlank() && !applet.equals("busybox")) {
                Files.createSymbolicLink(tree.resolve(applet.strip()), Path.of("busybox")); // relative: valid in the guest
            }
        }
        list.waitFor();
        Files.writeString(dir.resolve("tree/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(dir.resolve("tree/etc/group"), "root:x:0:\n");
        Path image = dir.resolve("root.ext4");
        Process p = new ProcessBuilder("/sbin/mke2fs", "-q", "-t", "ext4", "-d", dir.resolve("tree").toString(),
                image.toString(), "64M").inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("mke2fs failed");
        }
        try (var raf = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(512L * MIB); // room past the filesystem for raw dd
        }
        return image;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static void report(String what, double[] v, String unit) {
        double[] s = v.clone();
        Arrays.sort(s);
        System.out.printf("%-52s median %8.2f %s  (min %.2f, max %.2f, n %d)%n", what, median(v), unit, s[0], s[s.length - 1], s.length);
    }
}
