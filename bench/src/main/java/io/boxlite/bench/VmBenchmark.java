package io.boxlite.bench;

import io.boxlite.vmm.testguests.ScratchDevice;
import io.boxlite.vmm.testguests.TestGuest;
import io.boxlite.vmm.vstate.Vm;
import io.boxlite.vmm.vstate.VmConfig;
import io.boxlite.vmm.vstate.VmExit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Our VMM end to end with the {@code exits} test guest, beside {@code bench/c/vmbench}, which
 * issues the same ioctls from C:
 * <ul>
 * <li>{@code setupToFirstInstruction}: {@link Vm#create} → start → the boot vCPU's first exit
 *     (the guest's first instruction is an MMIO write), the VM closed outside the timing;</li>
 * <li>{@code pioExit} / {@code mmioExit}: create + {@value #EXITS} port-I/O (MMIO) exits + the
 *     done port, divided by {@value #EXITS}: one exit round trip through the vCPU thread and bus.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class VmBenchmark {
    static final int EXITS = 5000;
    private static final byte[] IMAGE = TestGuest.EXITS.image();
    private Vm vm;

    private static Vm boot(String mode, int count) {
        Vm vm = Vm.create(VmConfig.builder().kernel(IMAGE, "exits").memoryMib(64)
                .cmdline("mode=" + mode + " count=" + count).build());
        if (mode.equals("mmio")) {
            vm.mmioBus().register(ScratchDevice.ADDRESS, ScratchDevice.SIZE, new ScratchDevice());
        }
        return vm;
    }

    @TearDown(Level.Invocation)
    public void close() {
        if (vm != null) {
            vm.close();
            vm = null;
        }
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 30)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long setupToFirstInstruction() {
        vm = boot("pio", 0);
        vm.start();
        long first;
        while ((first = vm.timings().firstExitNanos()) == 0) {
            Thread.onSpinWait();
        }
        return first;
    }

    private VmExit exits(String mode) throws InterruptedException {
        vm = boot(mode, EXITS);
        vm.start();
        VmExit exit = vm.awaitExit(Duration.ofMinutes(2)).orElseThrow();
        if (!(exit instanceof VmExit.GuestStatus s) || s.status() != 0) {
            throw new IllegalStateException("the exits guest ended with " + exit);
        }
        return exit;
    }

    @Benchmark
    @Warmup(iterations = 3)
    @Measurement(iterations = 10)
    @OperationsPerInvocation(EXITS)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public VmExit pioExit() throws InterruptedException {
        return exits("pio");
    }

    @Benchmark
    @Warmup(iterations = 3)
    @Measurement(iterations = 10)
    @OperationsPerInvocation(EXITS)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public VmExit mmioExit() throws InterruptedException {
        return exits("mmio");
    }
}
