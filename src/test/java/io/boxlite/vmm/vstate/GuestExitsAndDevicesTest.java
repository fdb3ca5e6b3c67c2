package io.boxlite.vmm.vstate;

import io.boxlite.kvm.EnabledIfKvmAvailable;
import io.boxlite.vmm.testguests.ScratchDevice;
import io.boxlite.vmm.testguests.TestGuest;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** Exits the guest causes, MMIO routing, a second vCPU, and stopping a spinning guest. */
@EnabledIfKvmAvailable
class GuestExitsAndDevicesTest {
    @Test
    void mmioWriteAndReadReachTheRegisteredDevice() throws Exception {
        ScratchDevice device = new ScratchDevice();
        TestGuestRun run = TestGuestRun.run(TestGuest.MMIO, b -> { },
                vm -> vm.mmioBus().register(0xC000_1000L, 0x1000, device));
        assertEquals(new VmExit.GuestStatus(0), run.exit(), run.describe());
        assertEquals(java.util.List.of(0x1234ABCDL), device.writes());
        assertTrue(run.stats().getFirst().mmioExits() >= 3, "boot timer + write + read: " + run.stats());
    }

    @Test
    void withoutTheDeviceTheMmioReadIsAllOnesAndTheGuestNoticesIt() throws Exception {
        TestGuestRun run = TestGuestRun.run(TestGuest.MMIO, b -> { }, vm -> { });
        assertEquals(new VmExit.GuestStatus(1), run.exit(), run.describe());
        assertTrue(run.console().contains("read 0xffffffff"), run.describe());
    }

    @Test
    void aSecondVcpuMadeRunnableStartsWithItsOwnApicIdAndStack() throws Exception {
        TestGuestRun run = TestGuestRun.run(TestGuest.SMP, b -> b.vcpus(2)
                .apStart(VmConfig.ApStart.RUNNABLE_AT_ENTRY), vm -> { });
        assertEquals(new VmExit.GuestStatus(0), run.exit(), run.describe());
        assertTrue(run.console().contains("ap apic id 1"), run.describe());
        assertTrue(run.stats().get(1).firstRunNanos() > 0, "vCPU 1 entered KVM_RUN");
    }

    @Test
    void anApWaitingForSipiNeverRunsSoTheSmpGuestReportsIt() throws Exception {
        TestGuestRun run = TestGuestRun.run(TestGuest.SMP, b -> b.vcpus(2), vm -> { });
        assertEquals(new VmExit.GuestStatus(2), run.exit(), run.describe());
        assertTrue(run.console().contains("ap never ran"), run.describe());
    }

    @Test
    void theI8042ResetEndsTheVmAsAGuestReset() throws Exception {
        TestGuestRun run = TestGuestRun.run(TestGuest.RESET, b -> { }, vm -> { });
        assertEquals(new VmExit.GuestReset(), run.exit(), run.describe());
        assertFalse(run.console().contains("still running"), run.describe());
    }

    @Test
    void aTripleFaultEndsTheVmAsAGuestShutdown() throws Exception {
        TestGuestRun run = TestGuestRun.run(TestGuest.TRIPLE_FAULT, b -> { }, vm -> { });
        assertEquals(new VmExit.GuestShutdown(0), run.exit(), run.describe());
    }

    @Test
    void stopInterruptsAGuestSpinningWithoutExits() throws Exception {
        try (Vm vm = Vm.create(VmConfig.builder().kernel(TestGuest.SPIN.image(), "spin").memoryMib(32)
                .cmdline("console=ttyS0").vcpus(2).apStart(VmConfig.ApStart.RUNNABLE_AT_ENTRY).build())) {
            vm.start();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!consoleOf(vm).contains("spinning\n") && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(consoleOf(vm).contains("spinning\n"), "the guest reached its loop: " + consoleOf(vm));
            long exitsBefore = vm.vcpuStats().getFirst().exits();
            Thread.sleep(200);
            assertEquals(exitsBefore, vm.vcpuStats().getFirst().exits(), "the loop makes no exits");
            assertTrue(vm.awaitExit(Duration.ofMillis(10)).isEmpty(), "still running");

            assertEquals(new VmExit.Stopped(), vm.stop());
            for (Vcpu cpu : vm.vcpus()) {
                assertEquals(VcpuState.FINISHED, cpu.state());
                assertTrue(cpu.stats().interruptions() >= 1, "vCPU " + cpu.id() + " left KVM_RUN through the kick");
            }
        }
    }

    @Test
    void pauseAndResumeKeepTheGuestGoing() throws Exception {
        try (Vm vm = Vm.create(VmConfig.builder().kernel(TestGuest.SPIN.image(), "spin").memoryMib(32).build())) {
            vm.start();
            Vcpu cpu = vm.vcpus().getFirst();
            assertTrue(cpu.awaitState(VcpuState.RUNNING, Duration.ofSeconds(5)));
            cpu.pause();
            assertTrue(cpu.awaitState(VcpuState.PAUSED, Duration.ofSeconds(5)), "paused while spinning");
            cpu.resume();
            assertTrue(cpu.awaitState(VcpuState.RUNNING, Duration.ofSeconds(5)));
            assertEquals(new VmExit.Stopped(), vm.stop());
        }
    }

    private static String consoleOf(Vm vm) {
        return vm.config().console().tail();
    }
}
