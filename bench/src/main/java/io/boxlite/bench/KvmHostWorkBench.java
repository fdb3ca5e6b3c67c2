package io.boxlite.bench;

import io.boxlite.BoxOptions;
import io.boxlite.Boxlite;
import io.boxlite.Options;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.engine.BoxEngine;
import io.boxlite.engine.BoxVm;
import io.boxlite.engine.KvmBoxEngine;
import io.boxlite.guest.Initramfs;
import io.boxlite.kernel.GuestKernel;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.rootfs.RootfsBuilder;
import io.boxlite.runtime.BoxDatabase;
import io.boxlite.runtime.BoxRuntime;
import io.boxlite.runtime.disk.BoxDisks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The KVM engine's host work for one box, natively on this host: the steps {@code BoxHost} runs
 * before the guest boots — create (database row, image lookup, pin), box directories, the cached
 * ext4 base, the qcow2 overlay, and {@link KvmBoxEngine#boot} (VM, memory, kernel load, devices,
 * vCPU threads running) — each timed, N rounds after warm-up. On a KVM-PVM host the guest then
 * cannot boot Linux (the lab measures that part); the host's share is the same code either way.
 * Then the host memory of 1–5 such VMs alive at once, minus the guest RAM they touched.
 *
 * <pre>bench/run kvm-host [rounds] LAYOUT_DIR</pre>
 */
public final class KvmHostWorkBench {
    private static final int MEMORY_MIB = 512;
    private static final String IMAGE = "localhost/busybox:latest";

    private KvmHostWorkBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        Path layout = Path.of(args[1]).toAbsolutePath();
        Path dir = Files.createTempDirectory("boxlite-kvm-host-");
        GuestKernel kernel = GuestKernel.locate(Options.defaults());
        try (Boxlite boxlite = Boxlite.open(Options.builder().home(dir.resolve("home")).build())) {
            BoxRuntime runtime = boxlite.core();
            Path initramfs = Initramfs.of(kernel, GuestAgentBinary.bytes(), Initramfs.BOX_MODULES, Map.of())
                    .build(runtime.home());
            KvmBoxEngine engine = new KvmBoxEngine(kernel.vmlinuz(), initramfs, "bench");
            // a stored image, as a user's boxes have (a rootfsPath box re-imports its layout on each create)
            runtime.images().importer().importLayout(layout, Optional.empty(),
                    Optional.of(ImageReference.parse(IMAGE)), Platform.host());
            BoxOptions options = BoxOptions.builder().image(IMAGE).memoryMib(MEMORY_MIB).autoRemove(false).build();
            Map<String, List<Double>> samples = new LinkedHashMap<>();
            for (int i = 0; i < rounds + 3; i++) {
                Map<String, Double> r = new LinkedHashMap<>();
                BoxVm vm = hostWork(runtime, engine, options, r);
                vm.close();
                if (i >= 3) {
                    r.forEach((k, v) -> samples.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
                }
            }
            System.out.println("== KVM engine host work per box, ms (" + rounds + " rounds after 3 warm-up) ==");
            samples.forEach((k, v) -> System.out.println(BenchSupport.summary(String.format("%-22s", k), v)));
            memory(runtime, engine, options);
        }
    }

    private static BoxVm hostWork(BoxRuntime runtime, BoxEngine engine, BoxOptions options, Map<String, Double> r) {
        long t0 = System.nanoTime();
        BoxDatabase.Row row = runtime.create(options, Optional.empty());
        long t1 = System.nanoTime();
        Path box = runtime.store().boxDir(row.config().id());
        try {
            Files.createDirectories(box.resolve("logs"));
            Files.createDirectories(box.resolve("sockets"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        var built = RootfsBuilder.create(runtime.images()).build(Digest.parse(row.config().manifestDigest()));
        Path base = built.image();
        long t2 = System.nanoTime();
        BoxDisks.prepare(box, base, BoxDisks.virtualSize(0, built.size(), "bench"));
        var disk = BoxDisks.open(box);
        long t3 = System.nanoTime();
        BoxVm vm = engine.boot(new BoxEngine.VmSpec(1, MEMORY_MIB, disk, box.resolve("vm")), reason -> { });
        long t4 = System.nanoTime();
        r.put("create (db, image)", (t1 - t0) / 1e6);
        r.put("dirs + ext4 base", (t2 - t1) / 1e6);
        r.put("qcow2 overlay", (t3 - t2) / 1e6);
        r.put("engine boot (VM up)", (t4 - t3) / 1e6);
        r.put("host work total", (t4 - t0) / 1e6);
        return vm;
    }

    private static void memory(BoxRuntime runtime, BoxEngine engine, BoxOptions options) throws Exception {
        List<BoxVm> vms = new ArrayList<>();
        try {
            System.out.println("== host memory with N KVM-engine VMs alive (" + MEMORY_MIB + " MiB guests) ==");
            report(0, vms);
            for (int n = 1; n <= 5; n++) {
                vms.add(hostWork(runtime, engine, options, new LinkedHashMap<>()));
                Thread.sleep(500);
                report(n, vms);
            }
        } finally {
            vms.forEach(BoxVm::close);
        }
    }

    private static void report(int n, List<BoxVm> vms) throws Exception {
        System.gc();
        long guest = 0;
        for (BoxVm vm : vms) {
            guest += vm.guestResidentBytes().orElseThrow();
        }
        long rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).sum();
        System.out.printf("vms=%d rss_kib=%d guest_resident_kib=%d rss_minus_guest_kib=%d%n", n, rss, guest >> 10,
                rss - (guest >> 10));
    }
}
