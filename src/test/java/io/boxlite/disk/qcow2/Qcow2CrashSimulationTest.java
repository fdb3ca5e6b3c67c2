package io.boxlite.disk.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Replays every write the engine issued and cuts the stream at many points: each prefix is the
 * file a kill at that moment would leave. Each must pass qemu-img check (leaks allowed) and hold
 * all data flushed before the cut. Deterministic where the real kill test is random.
 */
class Qcow2CrashSimulationTest {
    private static final int CUTS = Integer.parseInt(System.getenv().getOrDefault("QCOW2_SIM_CUTS", "15"));

    @TempDir
    Path dir;

    @BeforeAll
    static void needsQemu() {
        QemuTools.assumeInstalled();
    }

    @AfterEach
    void untap() {
        ImageFile.tap = null;
    }

    /** One entry of the recorded stream: a write, or a marker from the workload thread. */
    private record Event(long position, byte[] data, int startedStep, int flushedStep) {}

    @ParameterizedTest(name = "cluster size {0}, seed {1}")
    @CsvSource({"4096, 1", "65536, 5"})
    void everyPrefixOfTheWriteStreamIsAConsistentImage(int clusterSize, long seed) throws Exception {
        Path image = dir.resolve("sim.qcow2");
        Qcow2Image.create(image, CrashWorkload.DISK_SIZE, clusterSize);
        byte[] initial = Files.readAllBytes(image);
        List<Event> events = new ArrayList<>();
        ImageFile.tap = (path, pos, data) -> {
            if (path.equals(image)) {
                byte[] b = new byte[data.remaining()];
                data.get(b);
                synchronized (events) {
                    events.add(new Event(pos, b, -1, -1));
                }
            }
        };
        int stepCount = 250;
        List<CrashWorkload.Step> steps = CrashWorkload.steps(seed, stepCount, clusterSize);
        AtomicBoolean stop = new AtomicBoolean();
        try (Qcow2Image img = Qcow2Image.open(image)) {
            Thread noise = Thread.ofPlatform().start(() -> {
                Random rnd = new Random(seed ^ 0x5eed);
                int span = CrashWorkload.DISK_SIZE - CrashWorkload.VERIFIED_REGION;
                while (!stop.get()) {
                    int len = 1 + rnd.nextInt(100_000);
                    long off = CrashWorkload.VERIFIED_REGION + rnd.nextInt(span - len);
                    switch (rnd.nextInt(10)) {
                        case 0 -> img.discard(off, len);
                        case 1 -> img.writeZeroes(off, len, true);
                        case 2 -> img.flush();
                        default -> img.write(off, ByteBuffer.wrap(DiskModel.randomBytes(rnd, len)));
                    }
                }
            });
            try {
                for (int i = 0; i < steps.size(); i++) {
                    CrashWorkload.Step s = steps.get(i);
                    synchronized (events) {
                        events.add(new Event(0, null, i, -1));
                    }
                    switch (s.kind()) {
                        case WRITE -> img.write(s.offset(), ByteBuffer.wrap(s.data()));
                        case ZEROES -> img.writeZeroes(s.offset(), s.length(), (i & 1) == 0);
                        case DISCARD -> img.discard(s.offset(), s.length());
                        case FLUSH -> {
                            img.flush();
                            synchronized (events) {
                                events.add(new Event(0, null, -1, i));
                            }
                        }
                    }
                }
            } finally {
                stop.set(true);
                noise.join();
            }
        }
        ImageFile.tap = null;

        Random cuts = new Random(seed);
        int checked = 0;
        for (int round = 0; round < CUTS; round++) {
            int cut = cuts.nextInt(events.size() + 1);
            byte[] file = Arrays.copyOf(initial, initial.length);
            int started = -1;
            int flushed = -1;
            for (int e = 0; e < cut; e++) {
                Event ev = events.get(e);
                if (ev.data() == null) {
                    started = Math.max(started, ev.startedStep());
                    flushed = Math.max(flushed, ev.flushedStep());
                    continue;
                }
                byte[] data = ev.data();
                if (e == cut - 1 && data.length > 4096 && cuts.nextBoolean()) {
                    // a kill inside this write: the kernel copies whole pages in order
                    data = Arrays.copyOf(data, 4096 * (1 + cuts.nextInt(data.length / 4096)));
                }
                long end = ev.position() + data.length;
                if (end > file.length) {
                    file = Arrays.copyOf(file, (int) end);
                }
                System.arraycopy(data, 0, file, (int) ev.position(), data.length);
            }
            Path cutImage = dir.resolve("cut.qcow2");
            Files.write(cutImage, file);
            QemuTools.Check check = QemuTools.check(cutImage);
            assertEquals(0, check.corruptions(), "cut at event " + cut + " of " + events.size()
                    + " (steps started " + started + ", flushed " + flushed + "):\n" + check.output());
            byte[] actual;
            try (Qcow2Image img = Qcow2Image.openReadOnly(cutImage)) {
                ByteBuffer b = ByteBuffer.allocate(CrashWorkload.VERIFIED_REGION);
                img.read(0, b);
                actual = b.array();
            }
            verify(actual, steps, flushed, started, cut);
            checked++;
        }
        assertEquals(CUTS, checked);
    }

    private static void verify(byte[] actual, List<CrashWorkload.Step> steps, int flushed, int started, int cut) {
        byte[] expected = new byte[actual.length];
        for (int i = 0; i <= flushed; i++) {
            CrashWorkload.Step s = steps.get(i);
            switch (s.kind()) {
                case WRITE -> System.arraycopy(s.data(), 0, expected, (int) s.offset(), s.length());
                case ZEROES, DISCARD -> Arrays.fill(expected, (int) s.offset(), (int) (s.offset() + s.length()),
                        (byte) 0);
                case FLUSH -> {
                    // nothing
                }
            }
        }
        for (int at = 0; at < actual.length; at += 512) {
            if (Arrays.equals(expected, at, at + 512, actual, at, at + 512)) {
                continue;
            }
            boolean explained = false;
            for (int j = flushed + 1; j <= started && !explained; j++) {
                CrashWorkload.Step st = steps.get(j);
                if (st.kind() == CrashWorkload.Kind.FLUSH || at < st.offset() || at >= st.offset() + st.length()) {
                    continue;
                }
                int rel = (int) (at - st.offset());
                explained = Arrays.equals(st.data(), rel, rel + 512, actual, at, at + 512);
            }
            if (!explained) {
                fail("cut at event " + cut + ": sector " + at / 512 + " holds data neither flushed (after step "
                        + flushed + ") nor written by a later step (up to " + started + ")");
            }
        }
    }
}
