package io.boxlite.vmm.vstate;

import io.boxlite.vmm.devices.legacy.ConsoleLog;
import io.boxlite.vmm.testguests.TestGuest;

import java.time.Duration;
import java.util.function.Consumer;

/** Runs a test guest to its exit and keeps what the tests look at. */
record TestGuestRun(VmExit exit, String console, VmTimings timings, java.util.List<VcpuStats> stats) {
    static final Duration TIMEOUT = Duration.ofSeconds(60); // a hang guard, not a timing target

    static TestGuestRun run(TestGuest guest, Consumer<VmConfig.Builder> configure, Consumer<Vm> beforeStart)
            throws InterruptedException {
        ConsoleLog console = ConsoleLog.inMemory(1 << 20);
        VmConfig.Builder b = VmConfig.builder().kernel(guest.image(), guest.guestName()).memoryMib(64)
                .cmdline("console=ttyS0 testguest=" + guest.guestName()).console(console);
        configure.accept(b);
        try (Vm vm = Vm.create(b.build())) {
            beforeStart.accept(vm);
            vm.start();
            VmExit exit = vm.awaitExit(TIMEOUT).orElseGet(vm::stop);
            vm.stop();
            return new TestGuestRun(exit, console.tail(), vm.timings(), vm.vcpuStats());
        }
    }

    String describe() {
        return "exit " + exit + "\n--- guest console ---\n" + console + "--- end ---";
    }
}
