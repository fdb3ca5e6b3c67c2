package io.boxlite.lab;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The pieces of the lab's SDK phases that run without the lab: the OCI layout, the result lines, the table. */
class LabSdkPartsTest {
    @Test
    void theBusyboxLayoutImportsAsAnImageWithOneLayerAndShAsCommand(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(LabImage.BUSYBOX), "busybox-static is needed (bin/setup)");
        Map<String, byte[]> files = LabOciLayout.busybox(LabImage.BUSYBOX, List.of("sh", "echo"));
        Path layout = dir.resolve("layout");
        for (var f : files.entrySet()) {
            Files.createDirectories(layout.resolve(f.getKey()).getParent());
            Files.write(layout.resolve(f.getKey()), f.getValue());
        }
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir.resolve("home")).build()).open();
        try (ImageStore store = ImageStore.open(home)) {
            List<ImageRecord> imported = store.importer().importLayout(layout, Optional.empty(),
                    Optional.of(ImageReference.parse(LabOciLayout.REF)), Platform.host());
            assertEquals(1, imported.size());
            assertEquals(1, store.layerPaths(imported.getFirst()).size());
            assertEquals(List.of("sh"), store.config(imported.getFirst()).cmd());
        }
        assertArrayEquals(files.get("index.json"), LabOciLayout.busybox(LabImage.BUSYBOX, List.of("sh", "echo"))
                .get("index.json"), "reproducible: the same inputs give the same digests");
    }

    @Test
    void sdkLinesAreKeptAndTabledPerEngine() {
        List<LabRun.Verdict> verdicts = new ArrayList<>();
        List<String> bench = new ArrayList<>();
        List<String> lines = List.of(
                "LAB-SDK warmup engine=kvm create_to_started_ms=900 guest_boot_ms=800 host_ms=100 first_exec_ms=5 stop_ms=9 stages={}",
                "LAB-SDK round engine=kvm create_to_started_ms=300 guest_boot_ms=280 host_ms=20 first_exec_ms=4 stop_ms=50 stages={}",
                "LAB-SDK round engine=qemu-kvm create_to_started_ms=500 guest_boot_ms=400 host_ms=100 first_exec_ms=6 stop_ms=70 stages={}",
                "LAB-SDK round engine=kvm create_to_started_ms=200 guest_boot_ms=170 host_ms=30 first_exec_ms=2 stop_ms=40 stages={}",
                "LAB-SDK memory boxes=1 rss_kib=1000 guest_resident_kib=500",
                "LAB-RESULT sdkbench:2 PASS see LAB-SDK lines");
        lines.forEach(l -> LabRun.parse(l, verdicts, bench));

        assertEquals(5, bench.size());
        assertEquals("sdkbench:2", verdicts.getFirst().phase());
        String table = LabMain.sdkTable(bench);
        assertTrue(table.contains("| kvm | 2 | 250 (200–300) | 225 (170–280) | 25 (20–30) | 3 (2–4) | 45 (40–50) |"), table);
        assertTrue(table.contains("| qemu-kvm | 1 | 500 (500–500) |"), table);
        assertTrue(!table.contains("900"), "warm-up rounds are not counted: " + table);
    }
}
