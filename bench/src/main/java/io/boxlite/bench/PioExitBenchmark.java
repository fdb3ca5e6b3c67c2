package io.boxlite.bench;

import io.boxlite.kvm.Kvm;
import io.boxlite.kvm.RealMode;
import io.boxlite.kvm.VcpuExit;
import io.boxlite.kvm.VcpuFd;
import io.boxlite.kvm.VmFd;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
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

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One guest port write → exit to the JVM → back into the guest, through {@link VcpuFd#run()}.
 * The guest is {@code out 0x10, al; jmp $-2}: every run() is exactly one PIO exit.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class PioExitBenchmark {
    private Kvm kvm;
    private GuestMemory memory;
    private VmFd vm;
    private VcpuFd vcpu;

    @Setup
    public void boot() {
        kvm = Kvm.open();
        memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0x1000), 0x1000)));
        memory.write(GuestAddress.of(0x1000), new byte[] {(byte) 0xE6, 0x10, (byte) 0xEB, (byte) 0xFC});
        vm = kvm.createVm();
        vm.registerMemory(memory);
        vcpu = vm.createVcpu(0);
        RealMode.enter(vcpu, 0x1000);
    }

    @TearDown
    public void shutdown() {
        vcpu.close();
        vm.close();
        memory.close();
        kvm.close();
    }

    @Benchmark
    public VcpuExit pioExitRoundTrip() {
        return vcpu.run();
    }
}
