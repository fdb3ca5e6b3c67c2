package io.boxlite.vmm.vstate;

import io.boxlite.kvm.EnabledIfKvmAvailable;
import io.boxlite.vmm.testguests.TestGuest;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Whole Vm lifecycles — booted, run to exit or stopped, closed — leave no descriptor, mapping or thread. */
@EnabledIfKvmAvailable
class VmLeakTest {
    private static final long RAM_MIB = 64;

    @Test
    void twentyVmCyclesLeakNothing() throws Exception {
        for (int i = 0; i < 3; i++) {
            cycle(i);
        }
        Snapshot before = Snapshot.take();
        for (int i = 0; i < 20; i++) {
            cycle(i);
        }
        Snapshot after = Snapshot.take();
        assertEquals(before.fds(), after.fds(), "descriptors by kind");
        assertEquals(before.kvmMappings(), after.kvmMappings(), "kvm_run mappings");
        assertEquals(0, after.vcpuThreads(), "vCPU threads left");
        assertTrue(after.vmSizeKb() - before.vmSizeKb() < (RAM_MIB << 10) / 2,
                "address space grew by " + (after.vmSizeKb() - before.vmSizeKb()) + " KiB: guest RAM leaked");
    }

    @Test
    void vmsServingVirtioDevicesLeaveNoEventfdEpollOrKickThread() throws Exception {
        virtioCycle();
        Snapshot before = Snapshot.take();
        for (int i = 0; i < 10; i++) {
            virtioCycle();
        }
        Snapshot after = Snapshot.take();
        assertEquals(before.fds(), after.fds(), "descriptors by kind (eventfd, eventpoll, kvm-vm…)");
        assertEquals(0, Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("boxlite-virtio-kicks")).count(), "kick threads left");
    }

    private static void virtioCycle() throws InterruptedException {
        try (Vm vm = Vm.create(VmConfig.builder().kernel(TestGuest.SPIN.image(), "spin").memoryMib(RAM_MIB)
                .virtioDevice(new io.boxlite.vmm.devices.virtio.vsock.VsockDevice(3))
                .virtioDevice(new io.boxlite.vmm.devices.virtio.vsock.VsockDevice(4)).build())) {
            assertEquals(2, vm.virtioSlots().size());
            vm.start();
            Thread.sleep(5);
            vm.stop();
        }
    }

    @Test
    void closingAVmThatWasNeverStartedEndsItsPausedVcpuThreads() throws Exception {
        try (Vm vm = Vm.create(VmConfig.builder().kernel(TestGuest.SPIN.image(), "spin").memoryMib(RAM_MIB).vcpus(2)
                .build())) {
            assertEquals(2, vm.vcpus().size());
        }
        assertEquals(0, Snapshot.take().vcpuThreads());
    }

    @Test
    void aFailedCreateReleasesWhatItHadMade() throws Exception {
        Snapshot before = Snapshot.take();
        byte[] notAKernel = new byte[8192];
        assertThrows(io.boxlite.vmm.loader.KernelImageException.class,
                () -> Vm.create(VmConfig.builder().kernel(notAKernel, "zeros").memoryMib(RAM_MIB).build()));
        Snapshot after = Snapshot.take();
        assertEquals(before.fds(), after.fds());
    }

    private static void cycle(int i) throws InterruptedException {
        boolean spin = i % 2 == 0;
        TestGuest guest = spin ? TestGuest.SPIN : TestGuest.MMIO;
        try (Vm vm = Vm.create(VmConfig.builder().kernel(guest.image(), guest.guestName()).memoryMib(RAM_MIB)
                .vcpus(2).apStart(VmConfig.ApStart.RUNNABLE_AT_ENTRY).build())) {
            vm.start();
            if (spin) {
                Thread.sleep(5);
                vm.stop();
            } else {
                assertTrue(vm.awaitExit(Duration.ofSeconds(30)).isPresent());
            }
        }
    }

    record Snapshot(Map<String, Integer> fds, long kvmMappings, long vcpuThreads, long vmSizeKb) {
        static Snapshot take() throws IOException {
            Map<String, Integer> fds = new TreeMap<>();
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                for (Path p : s.toList()) {
                    try {
                        String target = Files.readSymbolicLink(p).toString();
                        if (target.startsWith("anon_inode:") || target.startsWith("/dev/kvm")) {
                            fds.merge(target.replaceAll(":\\d+$", ""), 1, Integer::sum);
                        }
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
            return new Snapshot(fds, kvmMappings, vcpuThreads, vmSize);
        }
    }
}
