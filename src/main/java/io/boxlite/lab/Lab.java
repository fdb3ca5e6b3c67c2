package io.boxlite.lab;

import io.boxlite.Options;
import io.boxlite.kernel.GuestKernel;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * The nested lab in one call: build (or reuse) the outer image, boot it under QEMU TCG, run the
 * phases inside ({@link LabInside}), retry once on a stall, and return the verdicts with the
 * console log. See {@code docs/lab.md}.
 *
 * {@snippet :
 * LabRun.Report r = Lab.run(List.of("boot:1", "boot:2", "box"), Path.of("target/lab/lab.log"), System.out::println);
 * boolean ok = r.completed() && r.verdicts().stream().allMatch(LabRun.Verdict::passed);
 * }
 */
public final class Lab {
    /** The phases the lab test and {@code bin/lab} run by default. */
    public static final List<String> DEFAULT_PHASES = List.of("boot:1", "boot:2", "box", "sdk");

    private Lab() {
    }

    /** Runs {@code phases} in the lab with this JVM's class path and JDK; QEMU goes in only for a benchmark. */
    public static LabRun.Report run(List<String> phases, Path log, Consumer<String> progress) throws InterruptedException {
        boolean bench = phases.stream().anyMatch(p -> p.startsWith("bench") || p.startsWith("sdkbench"));
        LabImage.Spec spec = new LabImage.Spec(GuestKernel.locate(Options.defaults()),
                Path.of(System.getProperty("java.home")), LabClasspath.ofThisJvm(), bench, LabImage.defaultCacheDir());
        progress.accept("LAB-HARNESS building the outer image in " + spec.cacheDir());
        long t0 = System.nanoTime();
        Path image = LabImage.build(spec);
        progress.accept(String.format(java.util.Locale.ROOT, "LAB-HARNESS image %s ready in %.1f s", image,
                (System.nanoTime() - t0) / 1e9));
        return LabRun.runWithRetry(LabRun.Settings.defaults(deadline(phases)), spec.kernel().vmlinuz(), image, phases,
                log, progress);
    }

    /** Generous per-phase budgets under emulation on a shared 2-core host: a hang guard, not a target. */
    static Duration deadline(List<String> phases) {
        Duration d = Duration.ofMinutes(5); // outer boot, JVM start, first FFM linking
        for (String p : phases) {
            String[] f = p.split(":");
            d = d.plus(switch (f[0]) {
                case "boot", "once" -> Duration.ofMinutes(6);
                case "box", "sdk", "sdk-detached" -> Duration.ofMinutes(8);
                case "sdkbench" -> Duration.ofMinutes(4).multipliedBy(2L * Integer.parseInt(f[1]) + 5);
                case "bench" -> Duration.ofMinutes(3).multipliedBy(2L * Integer.parseInt(f[1]) + 1)
                        .plus(Duration.ofMinutes(4).multipliedBy(2L * Integer.parseInt(f[2])));
                default -> Duration.ofMinutes(1);
            });
        }
        return d;
    }
}
