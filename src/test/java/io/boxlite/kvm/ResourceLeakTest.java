package io.boxlite.kvm;

import io.boxlite.sys.EventFd;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A VM's whole life — RAM, KVM descriptors, eventfds, the kvm_run mapping and a vCPU platform
 * thread — leaves nothing behind: after a warm-up, 50 more cycles change no count.
 */
@EnabledIfKvmAvailable
class ResourceLeakTest {
    private static final long RAM = 64L << 20; // a leaked region would show as +64 MiB of VmSize
    private static final byte[] GUEST = {(byte) 0xE6, 0x10, (byte) 0xA2, 0x00, 0x30, (byte) 0xF4}; // out 0x10; mov [0x3000], al; hlt

    @Test
    void fiftyVmCyclesLeakNoDescriptorMappingOrThread() throws Exception {
        for (int i = 0; i < 3; i++) {
            oneVm();
        }
        Snapshot before = Snapshot.take();
        for (int i = 0; i < 50; i++) {
            oneVm();
        }
        Snapshot after = Snapshot.take();
        assertEquals(before.fds(), after.fds(), "descriptors by kind");
        assertEquals(before.kvmMappings(), after.kvmMappings(), "kvm_run mappings");
        assertEquals(before.vcpuThreads(), after.vcpuThreads(), "vCPU threads");
        assertTrue(after.vmSizeKb() - before.vmSizeKb() < (RAM >> 10) / 2,
                "address space grew by " + (after.vmSizeKb() - before.vmSizeKb()) + " KiB: guest RAM leaked");
    }

    private static void oneVm() throws InterruptedException {
        try (Kvm kvm = Kvm.open();
             GuestMemory memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), RAM)));
             VmFd vm = kvm.createVm();
             EventFd doorbell = EventFd.create(true);
             EventFd irq = EventFd.create()) {
            memory.write(GuestAddress.of(0x1000), GUEST);
            vm.registerMemory(memory);
            vm.createIrqchip();
            vm.registerIrqfd(irq, 5);
            vm.registerIoeventfd(doorbell, 0x1000_0000L, 4, OptionalLong.empty());
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                RealMode.enter(vcpu, 0x1000);
                Thread vcpuThread = Thread.ofPlatform().name("boxlite-vcpu-0").start(() -> {
                    VcpuExit exit;
                    do {
                        exit = vcpu.run();
                    } while (exit instanceof VcpuExit.Interrupted);
                    assertInstanceOf(VcpuExit.IoOut.class, exit);
                });
                vcpuThread.join(10_000);
                assertFalse(vcpuThread.isAlive(), "the vCPU thread finished");
            }
        }
    }

    private record Snapshot(Map<String, Integer> fds, long kvmMappings, long vcpuThreads, long vmSizeKb) {
        static Snapshot take() throws IOException {
            Map<String, Integer> fds = new TreeMap<>();
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                for (Path p : s.toList()) {
                    try {
                        String target = Files.readSymbolicLink(p).toString();
                        String kind = target.startsWith("anon_inode:") ? target.replaceAll(":\\d+$", "")
                                : target.startsWith("/dev/kvm") ? "/dev/kvm" : "other";
                        fds.merge(kind, 1, Integer::sum);
                    } catch (IOException closedMeanwhile) {
                        // the directory stream's own descriptor
                    }
                }
            }
            long kvmMappings;
            try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
                kvmMappings = maps.filter(l -> l.contains("kvm-vcpu")).count();
            }
            long vcpuThreads = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("boxlite-vcpu")).count();
            long vmSize = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("VmSize:")).mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).sum();
            fds.remove("other"); // JVM and Surefire files come and go; KVM and eventfds must not
            return new Snapshot(fds, kvmMappings, vcpuThreads, vmSize);
        }
    }
}
