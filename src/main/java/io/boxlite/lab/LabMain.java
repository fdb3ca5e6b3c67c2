package io.boxlite.lab;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bin/lab}: runs the nested lab from the command line.
 *
 * <pre>
 * bin/lab [--phases boot:1,boot:2,box] [--log FILE]
 * bin/lab bench [--rounds 8] [--process-rounds 3] [--log FILE]
 * bin/lab sdkbench [--rounds 5] [--log FILE]
 * </pre>
 * The console (outer and inner) streams to stdout; a summary follows. Exit status 0 when every
 * phase passed, 1 when one failed, 2 when the lab stalled twice or the arguments are wrong.
 */
public final class LabMain {
    private static final Pattern BENCH = Pattern.compile("LAB-BENCH (\\S+) (ok|failed) marker_ms=(\\S+) exit_ms=(\\S+)");
    private static final Pattern SDK = Pattern.compile("LAB-SDK round engine=(\\S+) create_to_started_ms=(\\d+)"
            + " guest_boot_ms=(\\d+) host_ms=(\\d+) first_exec_ms=(\\d+) stop_ms=(\\d+)");

    private LabMain() {
    }

    public static void main(String[] args) throws Exception {
        List<String> phases = new ArrayList<>(Lab.DEFAULT_PHASES);
        Path log = null;
        int rounds = 8;
        int processRounds = 3;
        boolean bench = false;
        boolean sdkBench = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "bench" -> bench = true;
                case "sdkbench" -> sdkBench = true;
                case "--phases" -> phases = List.of(value(args, ++i).split(","));
                case "--log" -> log = Path.of(value(args, ++i));
                case "--rounds" -> rounds = Integer.parseInt(value(args, ++i));
                case "--process-rounds" -> processRounds = Integer.parseInt(value(args, ++i));
                case "-h", "--help" -> {
                    System.out.println("usage: bin/lab [--phases boot:1,boot:2,box,sdk] [--log FILE]\n"
                            + "       bin/lab bench [--rounds N] [--process-rounds N] [--log FILE]\n"
                            + "       bin/lab sdkbench [--rounds N] [--log FILE]");
                    return;
                }
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (bench) {
            phases = List.of("bench:" + rounds + ":" + processRounds);
        } else if (sdkBench) {
            phases = List.of("sdkbench:" + Math.min(rounds, 5));
        }
        if (log == null) {
            log = Path.of("target", "lab", "lab-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))
                    + ".log");
        }
        LabRun.Report r = Lab.run(phases, log, System.out::println);
        System.out.println();
        System.out.println("=== nested lab: " + (r.completed() ? "completed" : "DID NOT COMPLETE: " + r.problem()) + " ===");
        System.out.printf(Locale.ROOT, "wall %.1f s, attempts %d, host load %s → %s, log %s%n", r.wall().toMillis() / 1e3,
                r.attempts(), r.hostLoadBefore(), r.hostLoadAfter(), r.log().toAbsolutePath());
        boolean ok = r.completed();
        for (String p : phases) {
            var v = r.verdict(p);
            System.out.println("  " + p + ": " + v.map(x -> (x.passed() ? "PASS " : "FAIL ") + x.facts()).orElse("NO VERDICT"));
            ok &= v.map(LabRun.Verdict::passed).orElse(false);
        }
        if (r.benchLines().stream().anyMatch(l -> l.startsWith("LAB-BENCH"))) {
            System.out.println();
            System.out.print(benchTable(r.benchLines()));
        }
        if (r.benchLines().stream().anyMatch(l -> l.startsWith("LAB-SDK"))) {
            System.out.println();
            System.out.print(sdkTable(r.benchLines()));
            r.benchLines().stream().filter(l -> l.startsWith("LAB-SDK memory")).forEach(System.out::println);
        }
        System.exit(!r.completed() ? 2 : ok ? 0 : 1);
    }

    /** Markdown rows: per series, median and min–max of time-to-marker and time-to-exit, n. */
    static String benchTable(List<String> lines) {
        Map<String, List<double[]>> series = new TreeMap<>();
        Map<String, Integer> failed = new TreeMap<>();
        for (String line : lines) {
            Matcher m = BENCH.matcher(line);
            if (!m.find()) {
                continue;
            }
            if (m.group(2).equals("ok")) {
                series.computeIfAbsent(m.group(1), k -> new ArrayList<>())
                        .add(new double[] {Double.parseDouble(m.group(3)), Double.parseDouble(m.group(4))});
            } else {
                failed.merge(m.group(1), 1, Integer::sum);
            }
        }
        StringBuilder out = new StringBuilder("| Series | to marker: median (min–max) ms | to exit: median (min–max) ms | n | failed |\n"
                + "|---|---|---|---|---|\n");
        for (var e : series.entrySet()) {
            double[] marker = e.getValue().stream().mapToDouble(a -> a[0]).sorted().toArray();
            double[] exit = e.getValue().stream().mapToDouble(a -> a[1]).sorted().toArray();
            out.append(String.format(Locale.ROOT, "| %s | %.0f (%.0f–%.0f) | %.0f (%.0f–%.0f) | %d | %d |%n", e.getKey(),
                    median(marker), marker[0], marker[marker.length - 1], median(exit), exit[0], exit[exit.length - 1],
                    marker.length, failed.getOrDefault(e.getKey(), 0)));
        }
        return out.toString();
    }

    /** Markdown rows: per engine, median and min–max of each measure of the SDK rounds. */
    static String sdkTable(List<String> lines) {
        String[] measures = {"create → started", "guest boot", "host work", "first exec", "stop"};
        Map<String, List<double[]>> series = new TreeMap<>();
        for (String line : lines) {
            Matcher m = SDK.matcher(line);
            if (m.find()) {
                double[] v = new double[measures.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = Double.parseDouble(m.group(i + 2));
                }
                series.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(v);
            }
        }
        StringBuilder out = new StringBuilder("| Engine | n |");
        for (String measure : measures) {
            out.append(' ').append(measure).append(": median (min–max) ms |");
        }
        out.append('\n').append("|---|---|").append("---|".repeat(measures.length)).append('\n');
        for (var e : series.entrySet()) {
            out.append("| ").append(e.getKey()).append(" | ").append(e.getValue().size()).append(" |");
            for (int i = 0; i < measures.length; i++) {
                int col = i;
                double[] sorted = e.getValue().stream().mapToDouble(a -> a[col]).sorted().toArray();
                out.append(String.format(Locale.ROOT, " %.0f (%.0f–%.0f) |", median(sorted), sorted[0],
                        sorted[sorted.length - 1]));
            }
            out.append('\n');
        }
        return out.toString();
    }

    static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            usage(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static void usage(String problem) {
        System.err.println("lab: " + problem + " (bin/lab --help)");
        System.exit(2);
    }
}
