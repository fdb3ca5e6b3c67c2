package io.boxlite.lab;

import io.boxlite.Boxlite;
import io.boxlite.BoxliteException;
import io.boxlite.EngineKind;
import io.boxlite.SimpleBox;
import io.boxlite.agent.AgentClient;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.ExecResult;
import io.boxlite.agent.Execution;
import io.boxlite.agent.ShutdownAction;
import io.boxlite.disk.RawDiskImage;
import io.boxlite.engine.kvm.KvmGuest;
import io.boxlite.vmm.devices.legacy.ConsoleLog;
import io.boxlite.vmm.vstate.VmExit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

/**
 * The lab's work on a machine whose {@code /dev/kvm} boots Linux: inside the nested lab's outer
 * guest (run by its {@code /init}), or directly on a host with hardware KVM. Each phase prints one
 * verdict line, {@code LAB-RESULT <phase> PASS|FAIL <facts>}, that the host harness parses:
 *
 * <ul>
 * <li>{@code boot:N} — the inner Debian kernel boots on BoxLite's VMM with N vCPUs to the marker
 *     initramfs's init (which reports how many CPUs it sees) and ends the VM itself (reboot);
 *     one retry if the boot stalls (nested emulation stalls ~1 boot in 30);</li>
 * <li>{@code box} — a box on the KVM engine: the agent as init, the Java virtio-blk root disk and
 *     virtio-vsock agent channel on virtio-mmio; exec, stdin/stdout, a disk write read back;</li>
 * <li>{@code sdk} — the runtime itself ({@link LabSdk}): {@code Boxlite.open} on a fresh home, the
 *     probe must pick the KVM engine; a box from the busybox OCI layout through {@code SimpleBox},
 *     {@code echo}, stop (the guest must end itself), remove; {@code sdk-detached} — the same box
 *     in a detached box host JVM;</li>
 * <li>{@code sdkbench:R} — R rounds of create → first exec → stop per engine (KVM engine vs QEMU
 *     engine with {@code -accel kvm}), then the host memory of 1–3 running KVM-engine boxes
 *     ({@code LAB-SDK} lines);</li>
 * <li>{@code bench:R:P} — R rounds of our VMM vs QEMU {@code -accel kvm} in this JVM, and P rounds
 *     timed as whole processes ({@code LAB-BENCH} lines);</li>
 * <li>{@code once:N} — one boot, for the benchmark's whole-process timing.</li>
 * </ul>
 *
 * <p>The lab directory holds {@code vmlinuz}, {@code marker.cpio.gz}, {@code box-initramfs.cpio.gz},
 * {@code box.ext4} and, for the benchmark, {@code qemu/bin/qemu-system-x86_64} and {@code qemu/share}.
 */
public final class LabInside {
    static final String RESULT = "LAB-RESULT";
    static final String BENCH = "LAB-BENCH";
    static final String SDK = "LAB-SDK";
    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(240);
    static final Duration AGENT_TIMEOUT = Duration.ofSeconds(300);
    static final long MEMORY_MIB = 512;

    private final Path dir;
    private final PrintStream out;

    LabInside(Path dir, PrintStream out) {
        this.dir = dir;
        this.out = out;
    }

    /** {@code LabInside DIR PHASE...}; exits 0 when every phase passed. */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: LabInside LAB_DIR PHASE... (boot:N, box, sdk, sdk-detached, sdkbench:ROUNDS,"
                    + " bench:ROUNDS:PROCESS_ROUNDS, once:N)");
            System.exit(2);
        }
        LabInside lab = new LabInside(Path.of(args[0]), System.out);
        boolean ok = true;
        for (int i = 1; i < args.length; i++) {
            ok &= lab.phase(args[i]);
        }
        System.out.flush();
        System.exit(ok ? 0 : 1);
    }

    /** Runs one phase and prints its verdict; true when it passed. */
    boolean phase(String phase) {
        progress("phase " + phase + " starting");
        try {
            String[] p = phase.split(":");
            return switch (p[0]) {
                case "boot" -> boot(phase, Integer.parseInt(p[1]));
                case "box" -> box(phase);
                case "sdk" -> sdk(phase, false);
                case "sdk-detached" -> sdk(phase, true);
                case "sdkbench" -> sdkBench(phase, Integer.parseInt(p[1]));
                case "bench" -> bench(Integer.parseInt(p[1]), Integer.parseInt(p[2]));
                case "once" -> once(Integer.parseInt(p[1]));
                default -> verdict(phase, false, "unknown phase");
            };
        } catch (Exception | AssertionError e) {
            e.printStackTrace(out);
            return verdict(phase, false, "threw " + oneLine(e.toString()));
        }
    }

    private boolean boot(String phase, int cpus) throws Exception {
        byte[] kernel = Files.readAllBytes(dir.resolve("vmlinuz"));
        byte[] initrd = Files.readAllBytes(dir.resolve("marker.cpio.gz"));
        InnerBoot.Result r = InnerBoot.run(kernel, initrd, InnerBoot.CMDLINE, cpus, MEMORY_MIB, BOOT_TIMEOUT, out,
                "inner" + cpus + "| ");
        if (r.stalled()) {
            out.println("LAB-STALL " + phase + " " + r.describe() + " — retrying once");
            r = InnerBoot.run(kernel, initrd, InnerBoot.CMDLINE, cpus, MEMORY_MIB, BOOT_TIMEOUT, out,
                    "inner" + cpus + "-retry| ");
        }
        boolean passed = r.passed() && r.exit() instanceof VmExit.GuestReset; // reboot=k: the i8042 reset
        if (!passed) {
            out.println("--- " + phase + ": last inner console lines ---");
            out.println(r.consoleTail());
            out.println("--- end ---");
        }
        return verdict(phase, passed, r.describe());
    }

    private boolean box(String phase) throws Exception {
        Path disk = Files.createTempFile("lab-box", ".ext4");
        try {
            Files.copy(dir.resolve("box.ext4"), disk, StandardCopyOption.REPLACE_EXISTING);
            String token = "boxlite-lab-" + UUID.randomUUID();
            List<String> facts = new ArrayList<>();
            ConsoleWatch watch = new ConsoleWatch(out, "box| ", "\u0000");
            ConsoleLog console = ConsoleLog.toStream(watch, 4L << 20, 16 << 10);
            long t0 = System.nanoTime();
            Optional<VmExit> exit;
            try (KvmGuest guest = KvmGuest.start(new KvmGuest.Spec(1, MEMORY_MIB, dir.resolve("vmlinuz"),
                    dir.resolve("box-initramfs.cpio.gz"), RawDiskImage.open(disk, false), console, List.of()))) {
                try (AgentClient agent = guest.awaitAgent(AGENT_TIMEOUT)) {
                    facts.add(String.format(Locale.ROOT, "agent_ms=%.0f", InnerBoot.millis(t0, System.nanoTime())));
                    expect(run(agent, ExecRequest.builder("echo", "hello from the KVM engine").build(), null),
                            0, "hello from the KVM engine\n", "echo");
                    Outcome uname = run(agent, ExecRequest.builder("sh", "-c", "uname -r; exit 7").build(), null);
                    if (uname.exit() != 7 || uname.stdout().isBlank()) {
                        throw new AssertionError("uname: exit " + uname.exit() + ", stdout '" + uname.stdout() + "'");
                    }
                    facts.add("kernel=" + uname.stdout().strip());
                    expect(run(agent, ExecRequest.builder("cat").build(), "through stdin " + token), 0,
                            "through stdin " + token, "cat (stdin to stdout)");
                    expect(run(agent, ExecRequest.builder("sh", "-c", "echo " + token + " > /root/blk-check && sync"
                            + " && echo 3 > /proc/sys/vm/drop_caches && cat /root/blk-check").build(), null),
                            0, token + "\n", "blk write, drop caches, read back");
                    facts.add("execs=4");
                    agent.shutdown(ShutdownAction.REBOOT, Duration.ofSeconds(5));
                }
                exit = guest.awaitExit(Duration.ofSeconds(120));
                facts.add("slots=" + guest.vm().virtioSlots().stream().map(s -> s.stats().ioeventfdKicks() + "kicks/"
                        + s.stats().interrupts() + "irqs").toList());
            }
            if (exit.isEmpty() || !(exit.get() instanceof VmExit.GuestReset)) {
                throw new AssertionError("the guest did not reboot after the agent's shutdown: " + exit);
            }
            facts.add(String.format(Locale.ROOT, "exit_ms=%.0f", InnerBoot.millis(t0, System.nanoTime())));
            if (!contains(disk, (token + "\n").getBytes(StandardCharsets.US_ASCII))) {
                throw new AssertionError("the token the guest wrote is not in the disk image: the write never reached "
                        + "our virtio-blk back end");
            }
            facts.add("token_on_disk=yes");
            return verdict(phase, true, String.join(" ", facts));
        } finally {
            Files.deleteIfExists(disk);
        }
    }

    /** The runtime on a fresh home; the probe must choose the KVM engine; one box's life through the SDK. */
    private boolean sdk(String phase, boolean detached) throws Exception {
        LabSdk sdk = new LabSdk(dir);
        Path home = Files.createTempDirectory("lab-sdk");
        try (Boxlite runtime = sdk.open(home, Optional.empty())) {
            LabSdk.requireEngine(runtime, "kvm");
            LabSdk.Run r;
            try {
                r = sdk.box(runtime, sdk.boxOptions(detached), "hello-from-the-sdk-" + UUID.randomUUID());
            } catch (BoxliteException e) {
                // nested emulation stalls ~1 boot in 30: the box fails to start in time; once more
                out.println("LAB-STALL " + phase + " " + oneLine(e.getMessage()) + " — retrying once");
                r = sdk.box(runtime, sdk.boxOptions(detached), "hello-from-the-sdk-" + UUID.randomUUID());
            }
            return verdict(phase, true, "engine=" + r.engine() + (detached ? " detached=yes" : "")
                    + " create_to_started_ms=" + r.createToStartedMs() + " guest_boot_ms=" + r.guestBootMs()
                    + " host_ms=" + r.hostMs() + " first_exec_ms=" + r.firstExecMs() + " stop_ms=" + r.stopMs()
                    + " stages=" + r.stages());
        } finally {
            LabImage.deleteTree(home);
        }
    }

    /**
     * Create → first exec → stop on both engines in warm runtimes, alternating which goes first,
     * free memory scrubbed before each box; then 1, 2 and 3 KVM-engine boxes running at once, with
     * this process's RSS and the guests' resident RAM after each.
     */
    private boolean sdkBench(String phase, int rounds) throws Exception {
        LabSdk sdk = new LabSdk(dir);
        Path kvmHome = Files.createTempDirectory("lab-sdk-kvm");
        Path qemuHome = Files.createTempDirectory("lab-sdk-qemu");
        boolean ok = true;
        try (Boxlite kvm = sdk.open(kvmHome, Optional.empty());
             Boxlite qemu = sdk.open(qemuHome, Optional.of(EngineKind.QEMU))) {
            LabSdk.requireEngine(kvm, "kvm");
            LabSdk.requireEngine(qemu, "qemu-kvm");
            // warm-up: image import, ext4 base, class loading — once per runtime, as for a user
            sdkLine("warmup", sdk.box(kvm, sdk.boxOptions(false), "warm"));
            sdkLine("warmup", sdk.box(qemu, sdk.boxOptions(false), "warm"));
            for (int i = 0; i < rounds; i++) {
                for (int k = 0; k < 2; k++) {
                    Boxlite runtime = (i + k) % 2 == 0 ? kvm : qemu;
                    MemoryScrub.scrub(512);
                    try {
                        sdkLine("round", sdk.box(runtime, sdk.boxOptions(false), "round-" + i));
                    } catch (RuntimeException | AssertionError e) {
                        ok = false;
                        out.println(SDK + " round failed " + oneLine(e.toString()));
                    }
                }
            }
            ok &= sdkMemory(sdk, kvm);
        } finally {
            LabImage.deleteTree(kvmHome);
            LabImage.deleteTree(qemuHome);
        }
        return verdict(phase, ok, "see " + SDK + " lines");
    }

    private boolean sdkMemory(LabSdk sdk, Boxlite runtime) throws Exception {
        List<SimpleBox> boxes = new ArrayList<>();
        try {
            System.gc();
            out.printf(Locale.ROOT, "%s memory boxes=0 rss_kib=%d guest_resident_kib=0%n", SDK, rssKib());
            for (int n = 1; n <= 3; n++) {
                SimpleBox box = SimpleBox.create(runtime, sdk.boxOptions(false));
                boxes.add(box);
                if (box.exec("echo", "up").exitCode() != 0) {
                    throw new AssertionError("echo failed in box " + n);
                }
                System.gc();
                long guest = 0;
                for (SimpleBox b : boxes) {
                    guest += runtime.core().localHost(b.id()).orElseThrow().guestResidentBytes().orElseThrow();
                }
                out.printf(Locale.ROOT, "%s memory boxes=%d rss_kib=%d guest_resident_kib=%d%n", SDK, n, rssKib(),
                        guest >> 10);
                out.flush();
            }
            return true;
        } finally {
            for (SimpleBox b : boxes) {
                b.stop();
                runtime.remove(b.id(), false);
            }
        }
    }

    private void sdkLine(String kind, LabSdk.Run r) {
        out.printf(Locale.ROOT, "%s %s engine=%s create_to_started_ms=%d guest_boot_ms=%d host_ms=%d first_exec_ms=%d"
                        + " stop_ms=%d stages=%s%n", SDK, kind, r.engine(), r.createToStartedMs(), r.guestBootMs(),
                r.hostMs(), r.firstExecMs(), r.stopMs(), r.stages().toString().replace(" ", ""));
        out.flush();
    }

    private static long rssKib() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).sum();
    }

    private record Outcome(int exit, String stdout, String stderr) {
    }

    private static Outcome run(AgentClient agent, ExecRequest request, String stdin) throws Exception {
        try (Execution e = agent.exec(request)) {
            if (stdin != null) {
                e.stdin().write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            e.stdin().close();
            String stdout = drain(e.stdout());
            String stderr = drain(e.stderr());
            ExecResult r = e.waitFor(Duration.ofSeconds(60))
                    .orElseThrow(() -> new AssertionError(request.argv() + " did not finish in 60 s"));
            return new Outcome(r.exitCode(), stdout, stderr);
        }
    }

    private static void expect(Outcome o, int exit, String stdout, String what) {
        if (o.exit() != exit || !o.stdout().equals(stdout)) {
            throw new AssertionError(what + ": exit " + o.exit() + " (want " + exit + "), stdout '" + o.stdout()
                    + "' (want '" + stdout + "'), stderr '" + o.stderr() + "'");
        }
    }

    private static String drain(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        return b.toString(StandardCharsets.UTF_8);
    }

    static boolean contains(Path file, byte[] needle) throws IOException {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            byte[] carry = new byte[0];
            long pos = 0;
            while (pos < ch.size()) {
                buf.clear();
                int n = ch.read(buf, pos);
                if (n <= 0) {
                    break;
                }
                pos += n;
                byte[] window = new byte[carry.length + n];
                System.arraycopy(carry, 0, window, 0, carry.length);
                System.arraycopy(buf.array(), 0, window, carry.length, n);
                if (indexOf(window, needle) >= 0) {
                    return true;
                }
                int keep = Math.min(needle.length - 1, window.length);
                carry = java.util.Arrays.copyOfRange(window, window.length - keep, window.length);
            }
        }
        return false;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** One boot in a fresh JVM: the benchmark's whole-process run of our VMM. */
    private boolean once(int cpus) throws Exception {
        byte[] kernel = Files.readAllBytes(dir.resolve("vmlinuz"));
        byte[] initrd = Files.readAllBytes(dir.resolve("marker.cpio.gz"));
        InnerBoot.Result r = InnerBoot.run(kernel, initrd, InnerBoot.BENCH_CMDLINE, cpus, MEMORY_MIB, BOOT_TIMEOUT, out,
                "once| ");
        return verdict("once:" + cpus, r.passed(), r.describe());
    }

    /**
     * Our VMM in this (warm) JVM vs QEMU spawned per boot, alternating which goes first, free
     * memory scrubbed before every VM; then whole processes: a fresh JVM per boot vs QEMU.
     */
    private boolean bench(int rounds, int processRounds) throws Exception {
        Path qemu = dir.resolve("qemu/bin/qemu-system-x86_64");
        Path data = dir.resolve("qemu/share");
        List<String> qemuCommand = InnerQemuBoot.command(qemu, data, dir.resolve("vmlinuz"), dir.resolve("marker.cpio.gz"),
                1, MEMORY_MIB);
        byte[] kernel = Files.readAllBytes(dir.resolve("vmlinuz"));
        byte[] initrd = Files.readAllBytes(dir.resolve("marker.cpio.gz"));
        PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
        // warm-up: the JVM's first VM pays class loading and FFM linking once; a library user pays it once too
        InnerBoot.Result warm = InnerBoot.run(kernel, initrd, InnerBoot.BENCH_CMDLINE, 1, MEMORY_MIB, BOOT_TIMEOUT,
                quiet, "");
        bench("ours-warmup", warm.passed(), warm.markerMillis(), warm.exitMillis());
        boolean ok = warm.passed();
        for (int i = 0; i < rounds; i++) {
            for (int k = 0; k < 2; k++) {
                boolean oursNow = (i + k) % 2 == 0;
                long scrubbed = MemoryScrub.scrub(256);
                progress("round " + i + (oursNow ? " ours" : " qemu") + " (scrubbed " + (scrubbed >> 20) + " MiB)");
                if (oursNow) {
                    InnerBoot.Result r = InnerBoot.run(kernel, initrd, InnerBoot.BENCH_CMDLINE, 1, MEMORY_MIB,
                            BOOT_TIMEOUT, quiet, "");
                    ok &= bench("ours-vm", r.passed(), r.markerMillis(), r.exitMillis());
                } else {
                    InnerQemuBoot.Result r = InnerQemuBoot.run(qemuCommand, BOOT_TIMEOUT, quiet);
                    ok &= bench("qemu-process", r.passed(), r.markerMillis(), r.exitMillis());
                }
            }
        }
        List<String> java = javaCommand();
        for (int i = 0; i < processRounds; i++) {
            for (int k = 0; k < 2; k++) {
                boolean oursNow = (i + k) % 2 == 0;
                MemoryScrub.scrub(256);
                if (oursNow) {
                    InnerQemuBoot.Result r = InnerQemuBoot.run(java, BOOT_TIMEOUT.multipliedBy(2), quiet);
                    ok &= bench("ours-process", r.passed() && r.exitCode() == 0, r.markerMillis(), r.exitMillis());
                } else {
                    InnerQemuBoot.Result r = InnerQemuBoot.run(qemuCommand, BOOT_TIMEOUT, quiet);
                    ok &= bench("qemu-process", r.passed(), r.markerMillis(), r.exitMillis());
                }
            }
        }
        return verdict("bench:" + rounds + ":" + processRounds, ok, "see " + BENCH + " lines");
    }

    private List<String> javaCommand() {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return List.of(javaBin, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp",
                System.getProperty("java.class.path"), LabInside.class.getName(), dir.toString(), "once:1");
    }

    private boolean bench(String what, boolean passed, double markerMillis, double exitMillis) {
        out.printf(Locale.ROOT, "%s %s %s marker_ms=%.1f exit_ms=%.1f%n", BENCH, what, passed ? "ok" : "failed",
                markerMillis, exitMillis);
        out.flush();
        return passed;
    }

    private boolean verdict(String phase, boolean passed, String facts) {
        out.println(RESULT + " " + phase + " " + (passed ? "PASS" : "FAIL") + " " + oneLine(facts));
        out.flush();
        return passed;
    }

    private void progress(String what) {
        out.printf(Locale.ROOT, "LAB-PROGRESS %s%n", what);
        out.flush();
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }
}
