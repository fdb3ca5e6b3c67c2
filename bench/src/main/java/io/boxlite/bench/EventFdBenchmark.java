package io.boxlite.bench;

import io.boxlite.sys.EventFd;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** Cost of one eventfd signal + read through the errno-capturing FFM wrappers (no waiting). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class EventFdBenchmark {
    private EventFd eventFd;

    @Setup
    public void open() {
        eventFd = EventFd.create(true);
    }

    @TearDown
    public void close() {
        eventFd.close();
    }

    @Benchmark
    public long signalAndRead() {
        eventFd.signal();
        return eventFd.read().orElseThrow();
    }
}
