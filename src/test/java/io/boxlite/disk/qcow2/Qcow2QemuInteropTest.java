package io.boxlite.disk.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.UnsupportedException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Differential tests against QEMU's own qcow2 driver: each side writes, the other reads. */
class Qcow2QemuInteropTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void needsQemu() {
        QemuTools.assumeInstalled();
    }

    /** Random qemu-io commands (pattern writes, zero writes, discards) mirrored into {@code model}. */
    private static List<String> qemuIoWorkload(Random rnd, DiskModel model, int ops, int size) {
        List<String> cmds = new ArrayList<>();
        for (int i = 0; i < ops; i++) {
            int len = 512 * (1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 400));
            long off = 512L * rnd.nextInt((size - len) / 512);
            int op = rnd.nextInt(10);
            if (op < 8) {
                int pattern = 1 + rnd.nextInt(255);
                cmds.add("write -P " + pattern + " " + off + " " + len);
                byte[] data = new byte[len];
                java.util.Arrays.fill(data, (byte) pattern);
                model.write(off, data);
            } else {
                cmds.add("write -z " + (op == 9 ? "-u " : "") + off + " " + len);
                model.zero(off, len);
            }
        }
        return cmds;
    }

    /** Our random writes, zeroes and cluster-aligned discards, mirrored into {@code model}. */
    private static void ourWorkload(Qcow2Image img, Random rnd, DiskModel model, int ops, int clusterSize) {
        int size = model.bytes.length;
        for (int i = 0; i < ops; i++) {
            int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 8192 : 400_000);
            long off = rnd.nextInt(size - len);
            int op = rnd.nextInt(10);
            if (op < 7) {
                byte[] data = DiskModel.randomBytes(rnd, len);
                img.write(off, ByteBuffer.wrap(data));
                model.write(off, data);
            } else if (op < 9) {
                img.writeZeroes(off, len, op == 8);
                model.zero(off, len);
            } else {
                long s = off / clusterSize * clusterSize;
                long l = Math.min(size - s, (long) clusterSize * (1 + rnd.nextInt(8)));
                img.discard(s, l);
                model.zero(s, l / clusterSize * clusterSize);
            }
            if (i % 53 == 0) {
                img.flush();
            }
        }
    }

    @ParameterizedTest(name = "cluster size {0}")
    @ValueSource(ints = {512, 4096, 65536})
    void whatQemuWritesWeRead(int clusterSize) {
        int size = 32 * MIB;
        Path p = dir.resolve("q.qcow2");
        QemuTools.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=" + clusterSize, p.toString(),
                String.valueOf(size));
        DiskModel model = new DiskModel(size);
        Random rnd = new Random(1000 + clusterSize);
        QemuTools.io(p, qemuIoWorkload(rnd, model, 300, size));
        try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
            model.assertMatches(img, rnd);
        }
        // and we can keep writing into what QEMU allocated
        try (Qcow2Image img = Qcow2Image.open(p)) {
            ourWorkload(img, rnd, model, 150, clusterSize);
        }
        QemuTools.assertClean(p);
    }

    @ParameterizedTest(name = "cluster size {0}")
    @ValueSource(ints = {512, 4096, 65536, 2 << 20})
    void whatWeWriteQemuReadsAndChecksClean(int clusterSize) throws Exception {
        int size = 40 * MIB;
        Path p = dir.resolve("o.qcow2");
        Qcow2Image.create(p, size, clusterSize);
        DiskModel model = new DiskModel(size);
        Random rnd = new Random(2000 + clusterSize);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            ourWorkload(img, rnd, model, 300, clusterSize);
        }
        QemuTools.assertClean(p);
        model.assertEqualsBytes(QemuTools.toRaw(p, dir));
        String info = QemuTools.img("info", p.toString()).stdout();
        assertTrue(info.contains("compat: 1.1"), info);
        // QEMU writes on top, we read again
        QemuTools.io(p, qemuIoWorkload(rnd, model, 100, size));
        try (Qcow2Image img = Qcow2Image.openReadOnly(p)) {
            model.assertMatches(img, rnd);
        }
    }

    @Test
    void anOverlayOverRawWorksBothWays() throws Exception {
        int size = 24 * MIB;
        Random rnd = new Random(5);
        byte[] base = DiskModel.randomBytes(rnd, 16 * MIB);
        Path images = Files.createDirectories(dir.resolve("images"));
        Files.write(images.resolve("base.raw"), base);
        Path box = Files.createDirectories(dir.resolve("boxes/b"));
        Path ov = box.resolve("disk.qcow2");
        Qcow2Image.createOverlay(ov, "../../images/base.raw", BackingFormat.RAW, size);
        String info = QemuTools.img("info", ov.toString()).stdout();
        assertTrue(info.contains("backing file: ../../images/base.raw"), info);
        assertTrue(info.contains("backing file format: raw"), info);
        DiskModel model = new DiskModel(size);
        model.write(0, base);
        try (Qcow2Image img = Qcow2Image.open(ov)) {
            ourWorkload(img, rnd, model, 200, 65536);
        }
        QemuTools.assertClean(ov);
        model.assertEqualsBytes(QemuTools.toRaw(ov, dir));
        QemuTools.io(ov, qemuIoWorkload(rnd, model, 150, size));
        try (Qcow2Image img = Qcow2Image.openReadOnly(ov)) {
            model.assertMatches(img, rnd);
        }
    }

    @Test
    void aThreeLevelChainQcow2OverQcow2OverRawWorksBothWays() throws Exception {
        int size = 20 * MIB;
        Random rnd = new Random(6);
        byte[] base = DiskModel.randomBytes(rnd, 8 * MIB);
        Files.write(dir.resolve("base.raw"), base);
        DiskModel model = new DiskModel(size);
        model.write(0, base);
        Path mid = dir.resolve("mid.qcow2");
        QemuTools.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "base.raw", "-F", "raw",
                mid.toString(), String.valueOf(16 * MIB));
        List<String> cmds = qemuIoWorkload(rnd, model, 120, 16 * MIB);
        QemuTools.io(mid, cmds);
        // the top is bigger than the middle: the part beyond 16 MiB reads as zeros
        Path top = dir.resolve("top.qcow2");
        Qcow2Image.createOverlay(top, "mid.qcow2", BackingFormat.QCOW2, size);
        try (Qcow2Image img = Qcow2Image.open(top)) {
            model.assertMatches(img, rnd);
            ourWorkload(img, rnd, model, 150, 65536);
        }
        QemuTools.assertClean(top);
        model.assertEqualsBytes(QemuTools.toRaw(top, dir));
        QemuTools.io(top, qemuIoWorkload(rnd, model, 100, size));
        try (Qcow2Image img = Qcow2Image.openReadOnly(top)) {
            model.assertMatches(img, rnd);
        }
    }

    @Test
    void compressedImagesFromQemuImgConvertReadAndCopyOnWrite() throws Exception {
        int size = 12 * MIB;
        Random rnd = new Random(8);
        byte[] raw = new byte[size];
        // compressible but not trivial: runs of random bytes, text and zeros
        for (int pos = 0; pos < size; ) {
            int run = Math.min(size - pos, 100 + rnd.nextInt(20_000));
            switch (rnd.nextInt(3)) {
                case 0 -> {
                    byte[] r = DiskModel.randomBytes(rnd, Math.min(run, 300));
                    for (int i = 0; i < run; i++) {
                        raw[pos + i] = r[i % r.length];
                    }
                }
                case 1 -> {
                    byte[] r = DiskModel.randomBytes(rnd, run);
                    System.arraycopy(r, 0, raw, pos, run);
                }
                default -> {
                    // zeros
                }
            }
            pos += run;
        }
        Path rawFile = dir.resolve("src.raw");
        Files.write(rawFile, raw);
        Path c = dir.resolve("c.qcow2");
        QemuTools.img("convert", "-q", "-c", "-f", "raw", "-O", "qcow2", rawFile.toString(), c.toString());
        QemuTools.Check before = QemuTools.check(c);
        assertTrue(before.output().matches("(?s).*\"compressed-clusters\": [1-9].*"),
                "qemu-img made compressed clusters: " + before.output());
        DiskModel model = new DiskModel(raw);
        try (Qcow2Image img = Qcow2Image.openReadOnly(c)) {
            model.assertMatches(img, rnd);
        }
        try (Qcow2Image img = Qcow2Image.open(c)) {
            ourWorkload(img, rnd, model, 120, 65536);
        }
        QemuTools.assertClean(c);
        model.assertEqualsBytes(QemuTools.toRaw(c, dir));
    }

    @Test
    void version2ImagesReadButOpenReadOnly() throws Exception {
        int size = 8 * MIB;
        Path v2 = dir.resolve("v2.qcow2");
        QemuTools.img("create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4096", v2.toString(),
                String.valueOf(size));
        Random rnd = new Random(9);
        DiskModel model = new DiskModel(size);
        List<String> cmds = new ArrayList<>();
        for (String cmd : qemuIoWorkload(rnd, new DiskModel(size), 0, size)) {
            cmds.add(cmd);
        }
        for (int i = 0; i < 100; i++) {
            int len = 512 * (1 + rnd.nextInt(64));
            long off = 512L * rnd.nextInt((size - len) / 512);
            int pattern = 1 + rnd.nextInt(255);
            cmds.add("write -P " + pattern + " " + off + " " + len);
            byte[] d = new byte[len];
            java.util.Arrays.fill(d, (byte) pattern);
            model.write(off, d);
        }
        QemuTools.io(v2, cmds);
        try (Qcow2Image img = Qcow2Image.openReadOnly(v2)) {
            assertEquals(2, img.header().version());
            model.assertMatches(img, rnd);
        }
        UnsupportedException e = assertThrows(UnsupportedException.class, () -> Qcow2Image.open(v2));
        assertTrue(e.getMessage().contains("compat=1.1"), e.getMessage());
    }

    @Test
    void refcountTableGrowthWithTinyClustersStaysClean() throws Exception {
        int size = 48 * MIB; // 512-byte clusters: one refcount table cluster covers only 8 MiB
        Path p = dir.resolve("tiny.qcow2");
        Qcow2Image.create(p, size, 512);
        DiskModel model = new DiskModel(size);
        Random rnd = new Random(10);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            for (int i = 0; i < 24; i++) {
                byte[] data = DiskModel.randomBytes(rnd, 2 * MIB);
                img.write((long) i * 2 * MIB, ByteBuffer.wrap(data));
                model.write((long) i * 2 * MIB, data);
            }
        }
        QemuTools.assertClean(p);
        String info = QemuTools.img("info", "--output=json", p.toString()).stdout();
        model.assertEqualsBytes(QemuTools.toRaw(p, dir));
        assertTrue(info.contains("\"cluster-size\": 512"), info);
    }

    @Test
    void qemuRefusesAnImageWeHoldOpenForWriting() {
        Path p = dir.resolve("l.qcow2");
        Qcow2Image.create(p, MIB, 65536);
        try (Qcow2Image img = Qcow2Image.open(p)) {
            QemuTools.Result r = QemuTools.run(List.of("/usr/bin/qemu-io", "-f", "qcow2", "-c",
                    "write 0 512", p.toString()));
            assertTrue(r.exit() != 0 && (r.stderr() + r.stdout()).contains("lock"),
                    "qemu-io must fail to lock: " + r);
            assertEquals(MIB, img.size());
        }
    }
}
