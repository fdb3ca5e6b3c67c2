package io.boxlite.runtime;

import io.boxlite.BoxInfo;
import io.boxlite.Boxlite;
import io.boxlite.Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/** Several processes creating and removing boxes on one home at once (the home lock + SQLite WAL). */
class ConcurrentProcessesTest {
    @TempDir
    Path dir;

    @Test
    void fourProcessesCreatingAndRemovingAtOnceLeaveAConsistentHome() throws Exception {
        Path home = BoxTestSupport.homeWithImage(dir.resolve("home"));
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<Process> processes = new ArrayList<>();
        for (int p = 0; p < 4; p++) {
            processes.add(new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                    System.getProperty("java.class.path"), ConcurrentCreator.class.getName(), home.toString(),
                    "p" + p, "6", "contested").redirectErrorStream(true).start());
        }
        List<String> outcomes = new ArrayList<>();
        for (Process p : processes) {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            outcomes.add(out.lines().filter(l -> l.equals("won") || l.equals("lost")).findFirst().orElseThrow(
                    () -> new AssertionError("no outcome in: " + out)));
        }
        assertEquals(1, outcomes.stream().filter("won"::equals).count(), outcomes.toString());

        Set<String> expected = new TreeSet<>(Set.of("contested"));
        for (int p = 0; p < 4; p++) {
            for (int i = 1; i < 6; i += 2) {
                expected.add("p" + p + "-" + i);
            }
        }
        try (Boxlite runtime = Boxlite.open(Options.builder().home(home).build())) {
            List<BoxInfo> boxes = runtime.list();
            assertEquals(expected, boxes.stream().map(b -> b.name().orElseThrow())
                    .collect(Collectors.toCollection(TreeSet::new)));
            Set<String> dirs;
            try (var list = Files.list(home.resolve("boxes"))) {
                dirs = list.map(d -> d.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
            }
            assertEquals(boxes.stream().map(BoxInfo::id).collect(Collectors.toCollection(TreeSet::new)), dirs,
                    "one directory per box, no leftovers");
        }
    }
}
