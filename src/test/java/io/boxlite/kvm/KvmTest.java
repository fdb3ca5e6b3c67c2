package io.boxlite.kvm;

import io.boxlite.ErrorCode;
import io.boxlite.sys.EventFd;
import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.*;

@EnabledIfKvmAvailable
class KvmTest {
    private static final long CODE = 0x1000;
    private static final long UNBACKED = 0x3000; // outside the one RAM page: an MMIO exit

    /** Real-mode guest: out 'A'; in; mmio write; mmio read; out what was read; hlt. */
    private static final byte[] PIO_MMIO_GUEST = {
        (byte) 0xBA, (byte) 0xF8, 0x03,     // mov dx, 0x3f8
        (byte) 0xB0, 0x41,                  // mov al, 'A'
        (byte) 0xEE,                        // out dx, al
        (byte) 0xEC,                        // in al, dx
        (byte) 0xA2, 0x00, 0x30,            // mov [0x3000], al
        (byte) 0xA0, 0x00, 0x30,            // mov al, [0x3000]
        (byte) 0xEE,                        // out dx, al
        (byte) 0xF4,                        // hlt
    };

    @Test
    void opensDevAndReportsApiAndCapabilities() {
        try (Kvm kvm = Kvm.open()) {
            assertTrue(kvm.checkExtension(BoxliteSys.KVM_CAP_USER_MEMORY()) > 0);
            assertTrue(kvm.checkExtension(BoxliteSys.KVM_CAP_IRQCHIP()) > 0);
            assertTrue(kvm.vcpuMmapSize() >= 4096, "kvm_run area is at least a page");
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0), "leaf 0 is always supported");
            assertTrue(kvm.msrIndexList().length > 0);
        }
    }

    @Test
    void missingDeviceFailsWithAdvice() {
        KvmException e = assertThrows(KvmException.class, () -> Kvm.open(Path.of("/dev/kvm-does-not-exist")));
        assertEquals(ErrorCode.ENGINE, e.code());
        assertEquals(BoxliteSys.ENOENT(), e.errno());
        assertTrue(e.getMessage().contains("ENOENT (No such file or directory)"), e.getMessage());
        assertTrue(e.getMessage().contains("BOXLITE_ENGINE=qemu"), e.getMessage());
    }

    @Test
    void tinyGuestDoesPortAndMmioIoThroughTheExitDecoder() {
        List<String> trace = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             GuestMemory memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(CODE), 0x1000)));
             VmFd vm = kvm.createVm()) {
            memory.write(GuestAddress.of(CODE), PIO_MMIO_GUEST);
            vm.registerMemory(memory);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                RealMode.enter(vcpu, CODE);
                loop:
                for (int i = 0; i < 20; i++) {
                    switch (vcpu.run()) {
                        case VcpuExit.IoOut out -> trace.add("out " + Integer.toHexString(out.port()) + " " + (char) out.data()[0]);
                        case VcpuExit.IoIn in -> {
                            trace.add("in " + Integer.toHexString(in.port()) + " size " + in.size());
                            in.data().set(ValueLayout.JAVA_BYTE, 0, (byte) 'B');
                        }
                        case VcpuExit.MmioWrite w -> trace.add("mmio write " + Long.toHexString(w.address()) + " " + (char) w.data()[0]);
                        case VcpuExit.MmioRead r -> {
                            trace.add("mmio read " + Long.toHexString(r.address()) + " len " + r.data().byteSize());
                            r.data().set(ValueLayout.JAVA_BYTE, 0, (byte) 'Z');
                        }
                        case VcpuExit.Hlt h -> {
                            trace.add("hlt");
                            break loop;
                        }
                        case VcpuExit other -> fail("unexpected exit " + other + " after " + trace);
                    }
                }
                assertEquals(List.of("out 3f8 A", "in 3f8 size 1", "mmio write 3000 B", "mmio read 3000 len 1",
                        "out 3f8 Z", "hlt"), trace);
                assertEquals(CODE + PIO_MMIO_GUEST.length, vcpu.regs().rip(), "rip is past the hlt");
            }
        }
    }

    @Test
    void registersRoundTrip() {
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(0)) {
            Regs regs = Regs.INITIAL.withRip(0x1234).withRsp(0x8000).withRsi(0x7000).withRax(42);
            vcpu.setRegs(regs);
            assertEquals(regs, vcpu.regs());
            Sregs s = vcpu.sregs();
            vcpu.setSregs(s.withBootState(s.cs(), s.ds(), s.tr(), new DescriptorTable(0x500, (short) 31), s.idt(),
                    s.cr0(), 0x9000, s.cr4(), s.efer()));
            assertEquals(0x500, vcpu.sregs().gdt().base());
            assertEquals(0x9000, vcpu.sregs().cr3());
            vcpu.setFpu((short) 0x37f, 0x1f80);
        }
    }

    @Test
    void ioeventfdTurnsAGuestStoreIntoAnEventWithoutAnExit() {
        try (Kvm kvm = Kvm.open();
             GuestMemory memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(CODE), 0x1000)));
             VmFd vm = kvm.createVm();
             EventFd doorbell = EventFd.create(true)) {
            memory.write(GuestAddress.of(CODE), PIO_MMIO_GUEST);
            vm.registerMemory(memory);
            vm.createIrqchip();
            vm.registerIoeventfd(doorbell, UNBACKED, 1, OptionalLong.empty());
            try (EventFd irq = EventFd.create()) {
                vm.registerIrqfd(irq, 5);
                vm.unregisterIrqfd(irq, 5);
            }
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                RealMode.enter(vcpu, CODE);
                List<String> exits = new ArrayList<>();
                for (int i = 0; i < 10 && exits.size() < 3; i++) {
                    switch (vcpu.run()) {
                        case VcpuExit.IoOut out -> exits.add("out " + (char) out.data()[0]);
                        case VcpuExit.IoIn in -> in.data().set(ValueLayout.JAVA_BYTE, 0, (byte) 'B');
                        case VcpuExit.MmioRead r -> {
                            exits.add("mmio read");
                            r.data().set(ValueLayout.JAVA_BYTE, 0, (byte) 'Z');
                        }
                        case VcpuExit.MmioWrite w -> fail("the doorbell store exited to user space");
                        case VcpuExit other -> fail("unexpected exit " + other);
                    }
                }
                assertEquals(List.of("out A", "mmio read", "out Z"), exits);
                assertEquals(OptionalLong.of(1), doorbell.read(), "the store rang the doorbell once");
            }
            vm.unregisterIoeventfd(doorbell, UNBACKED, 1, OptionalLong.empty());
        }
    }

    @Test
    void inKernelDevicesAndAddressesCanBeCreated() {
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm()) {
            vm.setTssAddress(0xfffb_d000L);
            vm.setIdentityMapAddress(0xfffb_c000L);
            vm.createIrqchip();
            vm.createPit2(true);
            vm.setIrqLine(4, true);
            vm.setIrqLine(4, false);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                vcpu.setMpState(BoxliteSys.KVM_MP_STATE_RUNNABLE());
                assertEquals(BoxliteSys.KVM_MP_STATE_RUNNABLE(), vcpu.mpState());
                vcpu.setSignalMask(0);
                byte[] lapic = vcpu.lapic(); // needs the in-kernel irqchip
                assertEquals(1024, lapic.length);
                vcpu.setLapic(lapic);
                vcpu.setCpuid(kvm.supportedCpuid());
            }
            KvmException twice = assertThrows(KvmException.class, vm::createIrqchip);
            assertTrue(twice.getMessage().startsWith("ioctl(KVM_CREATE_IRQCHIP) failed: EEXIST"), twice.getMessage());
        }
    }

    @Test
    void immediateExitReturnsBeforeEnteringTheGuest() {
        try (Kvm kvm = Kvm.open();
             GuestMemory memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(CODE), 0x1000)));
             VmFd vm = kvm.createVm()) {
            memory.write(GuestAddress.of(CODE), PIO_MMIO_GUEST);
            vm.registerMemory(memory);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                RealMode.enter(vcpu, CODE);
                vcpu.requestImmediateExit(true);
                assertInstanceOf(VcpuExit.Interrupted.class, vcpu.run());
                assertEquals(CODE, vcpu.regs().rip(), "no guest instruction ran");
                vcpu.requestImmediateExit(false);
                assertInstanceOf(VcpuExit.IoOut.class, vcpu.run());
            }
        }
    }

    @Test
    void nativeExecutionCheckGivesAVerdictWithAReason() {
        try (Kvm kvm = Kvm.open()) {
            var failure = NativeExecutionCheck.failure(kvm);
            // On KVM-PVM hosts the emulator lacks popcnt; on hardware KVM the guest runs.
            if (java.nio.file.Files.exists(Path.of("/sys/module/kvm_pvm"))) {
                assertTrue(failure.isPresent(), "PVM interprets guest code");
                assertTrue(failure.get().contains("KVM_EXIT_INTERNAL_ERROR"), failure.get());
            } else if (failure.isPresent()) {
                assertFalse(failure.get().isBlank());
            }
        }
    }
}
