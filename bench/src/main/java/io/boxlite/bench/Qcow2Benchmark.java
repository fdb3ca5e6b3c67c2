package io.boxlite.bench;

import io.boxlite.disk.qcow2.Qcow2Image;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Our qcow2 engine against a raw file (plain FileChannel positional I/O, the floor) on a 256 MiB
 * working set that is fully allocated first, so this measures the mapping path, not allocation.
 * Both go through the page cache (like QEMU's cache=writeback); no flush per operation.
 * Run: {@code bench/run jmh Qcow2Benchmark}. Compare with {@code qemu-img bench} (docs/qcow2.md).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class Qcow2Benchmark {
    private static final int WORKING_SET = 256 << 20;
    private static final int SMALL = 4096;
    private static final int LARGE = 1 << 20;

    @Param({"qcow2", "raw"})
    public String format;

    private Path dir;
    private Qcow2Image qcow2;
    private FileChannel raw;
    private final SplittableRandom rnd = new SplittableRandom(42);
    private final ByteBuffer small = ByteBuffer.allocateDirect(SMALL);
    private final ByteBuffer large = ByteBuffer.allocateDirect(LARGE);
    private long seqSmall;
    private long seqLarge;

    @Setup(Level.Trial)
    public void prepare() throws IOException {
        dir = Files.createTempDirectory("qcow2-bench");
        ByteBuffer fill = ByteBuffer.allocateDirect(LARGE);
        while (fill.hasRemaining()) {
            fill.put((byte) rnd.nextInt());
        }
        if (format.equals("qcow2")) {
            Path p = dir.resolve("bench.qcow2");
            Qcow2Image.create(p, 1L << 30, Qcow2Image.DEFAULT_CLUSTER_SIZE);
            qcow2 = Qcow2Image.open(p);
            for (long off = 0; off < WORKING_SET; off += LARGE) {
                qcow2.write(off, fill.clear());
            }
            qcow2.flush();
        } else {
            raw = FileChannel.open(dir.resolve("bench.raw"), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            for (long off = 0; off < WORKING_SET; off += LARGE) {
                fill.clear();
                while (fill.hasRemaining()) {
                    raw.write(fill, off + fill.position());
                }
            }
            raw.force(false);
        }
    }

    @TearDown(Level.Trial)
    public void cleanUp() throws IOException {
        if (qcow2 != null) {
            qcow2.close();
        }
        if (raw != null) {
            raw.close();
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private void read(long offset, ByteBuffer b) throws IOException {
        b.clear();
        if (qcow2 != null) {
            qcow2.read(offset, b);
        } else {
            while (b.hasRemaining()) {
                raw.read(b, offset + b.position());
            }
        }
    }

    private void write(long offset, ByteBuffer b) throws IOException {
        b.clear();
        if (qcow2 != null) {
            qcow2.write(offset, b);
        } else {
            while (b.hasRemaining()) {
                raw.write(b, offset + b.position());
            }
        }
    }

    @Benchmark
    public ByteBuffer randomRead4k() throws IOException {
        read((long) rnd.nextInt(WORKING_SET / SMALL) * SMALL, small);
        return small;
    }

    @Benchmark
    public ByteBuffer randomWrite4k() throws IOException {
        write((long) rnd.nextInt(WORKING_SET / SMALL) * SMALL, small);
        return small;
    }

    @Benchmark
    public ByteBuffer sequentialRead4k() throws IOException {
        read(seqSmall, small);
        seqSmall = (seqSmall + SMALL) % WORKING_SET;
        return small;
    }

    @Benchmark
    public ByteBuffer sequentialWrite4k() throws IOException {
        write(seqSmall, small);
        seqSmall = (seqSmall + SMALL) % WORKING_SET;
        return small;
    }

    @Benchmark
    public ByteBuffer sequentialRead1m() throws IOException {
        read(seqLarge, large);
        seqLarge = (seqLarge + LARGE) % WORKING_SET;
        return large;
    }

    @Benchmark
    public ByteBuffer sequentialWrite1m() throws IOException {
        write(seqLarge, large);
        seqLarge = (seqLarge + LARGE) % WORKING_SET;
        return large;
    }
}
