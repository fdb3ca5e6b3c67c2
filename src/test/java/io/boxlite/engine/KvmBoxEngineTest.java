package io.boxlite.engine;

import io.boxlite.BoxliteException;
import io.boxlite.Options;
import io.boxlite.agent.ShutdownAction;
import io.boxlite.disk.RawDiskImage;
import io.boxlite.guest.Initramfs;
import io.boxlite.agent.GuestAgentBinary;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;
import io.boxlite.kvm.EnabledIfKvmAvailable;
import io.boxlite.vmm.testguests.TestGuest;
import io.boxlite.vmm.vstate.VmExit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The KVM engine's box VM on this host's /dev/kvm with the real box kernel and initramfs: it is
 * torn down without leaking a descriptor, mapping or thread; a guest's own end and a vCPU failure
 * reach the box's exit status and {@code onFailure}. The successful boot of the box runs in the nested lab ({@code NestedLabTest}, phases {@code box} and {@code sdk}).
 */
@EnabledIfKvmAvailable
class KvmBoxEngineTest {
    private static GuestKernel kernel;

    @TempDir
    Path tmp;

    @BeforeAll
    static void kernelIsInstalled() {
        try {
            kernel = GuestKernel.locate(Options.defaults());
        } catch (RuntimeException e) {
            System.err.println("*** SKIPPING KvmBoxEngineTest: the guest kernel is missing (bin/fetch-kernel) ***");
        }
        assumeTrue(kernel != null, "the box kernel is needed (bin/fetch-kernel)");
    }

    private KvmBoxEngine engine() {
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(tmp.resolve("home")).build()).open();
        Path initramfs = Initramfs.of(kernel, GuestAgentBinary.bytes(), Initramfs.BOX_MODULES, Map.of()).build(home);
        return new KvmBoxEngine(kernel.vmlinuz(), initramfs, "test");
    }

    @Test
    void aBoxVmClosedWhileBootingLeavesNoDescriptorMappingOrThread() throws Exception {
        KvmBoxEngine engine = engine();
        engine.boot(new BoxEngine.VmSpec(1, 128, disk("warm"), tmp.resolve("warm")), r -> { }).close();
        Resources before = Resources.take();
        for (int i = 0; i < 3; i++) {
            BoxVm vm = engine.boot(new BoxEngine.VmSpec(2, 128, disk("root" + i), tmp.resolve("vm" + i)), r -> { });
            assertEquals(ProcessHandle.current().pid(), vm.pid(), "the VM runs in this process");
            assertEquals(ShutdownAction.REBOOT, vm.stopAction(), "our VMM ends on the guest's reset");
            vm.close();
            vm.close(); // idempotent
            assertFalse(vm.isAlive());
        }
        Resources after = Resources.take();
        assertEquals(before, after, "descriptors, kvm_run mappings and VMM threads before and after three boxes");
    }

    private RawDiskImage disk(String name) throws IOException {
        Path file = tmp.resolve(name + ".img");
        Files.write(file, new byte[1 << 20]);
        return RawDiskImage.open(file, false);
    }

    @Test
    void aGuestThatEndsItselfIsNoLongerAliveExitsWithZeroAndFailsTheAgentWait() throws Exception {
        Path kernelFile = tmp.resolve("reset-guest");
        Files.write(kernelFile, TestGuest.RESET.image());
        Path initrd = Files.write(tmp.resolve("initrd"), new byte[512]);
        Path state = tmp.resolve("state");
        List<String> failures = new CopyOnWriteArrayList<>();
        KvmBoxEngine engine = new KvmBoxEngine(kernelFile, initrd, "test");
        try (BoxVm vm = engine.boot(new BoxEngine.VmSpec(1, 64, disk("root"), state), failures::add)) {
            assertEquals(Optional.of(0), vm.awaitExit(Duration.ofSeconds(60)), "the guest's i8042 reset is a clean exit");
            assertFalse(vm.isAlive());
            BoxliteException e = assertThrows(BoxliteException.class, () -> vm.awaitAgent(Duration.ofSeconds(5)));
            assertTrue(e.getMessage().contains("The guest stopped while booting (GuestReset"), e.getMessage());
            assertEquals(state.resolve("console.log"), vm.consoleLog());
            assertTrue(Files.isRegularFile(vm.consoleLog()), "the console goes to the box's console.log");
        }
        assertEquals(List.of(), failures, "a guest that ends itself is no failure");
    }

    @Test
    void aFailedVcpuReachesOnFailureOnAVirtualThreadAndExitsWithStatusOne() throws Exception {
        CompletableFuture<String> reason = new CompletableFuture<>();
        CompletableFuture<Boolean> virtual = new CompletableFuture<>();
        CompletableFuture<VmExit> exit = new CompletableFuture<>();
        KvmBoxEngine.reportFailure(exit, r -> {
            virtual.complete(Thread.currentThread().isVirtual());
            reason.complete(r);
        });
        VmExit.Failed failed = new VmExit.Failed(1, "KVM_EXIT_INTERNAL_ERROR (emulation failure)");
        exit.complete(failed);

        assertEquals("vCPU 1 failed: KVM_EXIT_INTERNAL_ERROR (emulation failure)", reason.get(10, TimeUnit.SECONDS));
        assertTrue(virtual.get(), "never on the vCPU thread that ended the run");
        assertEquals(1, KvmBoxEngine.status(failed));
        assertEquals(0, KvmBoxEngine.status(new VmExit.GuestReset()));
        assertEquals(0, KvmBoxEngine.status(new VmExit.Stopped()));
        assertEquals(7, KvmBoxEngine.status(new VmExit.GuestStatus(7)));
    }

    @Test
    void aCleanExitIsNotReportedAsAFailure() throws Exception {
        List<String> failures = new CopyOnWriteArrayList<>();
        CompletableFuture<VmExit> exit = new CompletableFuture<>();
        KvmBoxEngine.reportFailure(exit, failures::add);
        exit.complete(new VmExit.GuestReset());
        Thread.sleep(100);
        assertEquals(List.of(), failures);
    }

    /** What a VM holds in this process. */
    private record Resources(Map<String, Long> fds, long kvmRunMappings, long vmmThreads) {
        static Resources take() throws IOException {
            Map<String, Long> fds = new java.util.TreeMap<>();
            try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
                for (Path p : s.toList()) {
                    try {
                        fds.merge(Files.readSymbolicLink(p).toString().replaceAll("[:\\[]\\d+\\]?$", ""), 1L, Long::sum);
                    } catch (IOException closedMeanwhile) {
                        // the listing's own descriptor
                    }
                }
            }
            long mappings;
            try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
                mappings = maps.filter(l -> l.contains("kvm-vcpu")).count();
            }
            long threads = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("boxlite-vcpu") || t.getName().startsWith("boxlite-virtio"))
                    .count();
            return new Resources(fds, mappings, threads);
        }
    }
}
