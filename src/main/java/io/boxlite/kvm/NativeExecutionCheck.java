package io.boxlite.kvm;

import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.util.List;
import java.util.Optional;

/**
 * Tells whether this host's KVM executes guest code on the CPU (hardware virtualization) or
 * interprets it (KVM-PVM's "native" mode runs a non-PVM guest's kernel code through KVM's
 * instruction emulator, which lacks instructions every Linux kernel uses).
 *
 * <p>It runs a 9-byte real-mode guest: {@code popcnt ax, bx} — an instruction the emulator does
 * not implement — then reports the result on port 0xE9. Hardware KVM prints the popcount;
 * an emulating host stops with {@code KVM_EXIT_INTERNAL_ERROR}.
 */
public final class NativeExecutionCheck {
    static final int REPORT_PORT = 0xE9;
    private static final long CODE = 0x1000;
    private static final byte[] GUEST = {
        (byte) 0xBB, 0x0F, 0x0F,                 // mov bx, 0x0f0f
        (byte) 0xF3, 0x0F, (byte) 0xB8, (byte) 0xC3, // popcnt ax, bx
        (byte) 0xE6, (byte) REPORT_PORT,         // out 0xe9, al
        (byte) 0xF4,                             // hlt
    };
    private static final int MAX_EXITS = 16;

    private NativeExecutionCheck() {
    }

    /** Empty when guest code ran natively; else why not, in words. */
    public static Optional<String> failure(Kvm kvm) {
        try (GuestMemory memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(CODE), 0x1000)));
             VmFd vm = kvm.createVm()) {
            memory.write(GuestAddress.of(CODE), GUEST);
            vm.registerMemory(memory);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                RealMode.enter(vcpu, CODE);
                for (int i = 0; i < MAX_EXITS; i++) {
                    switch (vcpu.run()) {
                        case VcpuExit.IoOut out when out.port() == REPORT_PORT -> {
                            int popcount = Byte.toUnsignedInt(out.data()[0]);
                            return popcount == 8 ? Optional.empty()
                                    : Optional.of("the test guest computed popcnt(0x0f0f) = " + popcount + ", not 8");
                        }
                        case VcpuExit.InternalError e -> {
                            return Optional.of("KVM could not execute the test guest's popcnt instruction "
                                    + "(KVM_EXIT_INTERNAL_ERROR, suberror " + e.suberror() + "): guest code is "
                                    + "emulated, not run on the CPU, so a stock Linux kernel cannot boot");
                        }
                        case VcpuExit.Interrupted ignored -> {
                        }
                        case VcpuExit other -> {
                            return Optional.of("the test guest stopped unexpectedly: " + other);
                        }
                    }
                }
                return Optional.of("the test guest made " + MAX_EXITS + " exits without reporting");
            }
        }
    }
}
