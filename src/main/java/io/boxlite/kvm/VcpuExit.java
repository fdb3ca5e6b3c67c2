package io.boxlite.kvm;

import java.lang.foreign.MemorySegment;

/**
 * Why {@link VcpuFd#run()} returned. Exits that carry a {@code data} segment alias the vCPU's
 * shared {@code kvm_run} area: the segment is valid only until the next {@code run()}, and for
 * reads ({@link IoIn}, {@link MmioRead}) the VMM answers by filling it before that call.
 */
public sealed interface VcpuExit {
    /** {@code in} from {@code port}: fill {@code data} ({@code size × count} bytes). */
    record IoIn(int port, int size, int count, MemorySegment data) implements VcpuExit {
    }

    /** {@code out} to {@code port}: {@code data} holds {@code size × count} bytes, copied. */
    record IoOut(int port, int size, int count, byte[] data) implements VcpuExit {
    }

    /** A load from unbacked guest-physical {@code address}: fill {@code data} (1–8 bytes). */
    record MmioRead(long address, MemorySegment data) implements VcpuExit {
    }

    /** A store of {@code data} (1–8 bytes, copied) to unbacked guest-physical {@code address}. */
    record MmioWrite(long address, byte[] data) implements VcpuExit {
    }

    /** The guest executed {@code hlt} (only without an in-kernel irqchip). */
    record Hlt() implements VcpuExit {
    }

    /** Triple fault or similar: the guest is dead (KVM_EXIT_SHUTDOWN). */
    record Shutdown() implements VcpuExit {
    }

    /** A system event such as reset or shutdown requested through an in-kernel device. */
    record SystemEvent(int type) implements VcpuExit {
    }

    /** The CPU refused to enter the guest; {@code hardwareReason} is vendor specific. */
    record FailEntry(long hardwareReason, int cpu) implements VcpuExit {
    }

    /** KVM could not handle an exit, e.g. an instruction its emulator lacks (PVM hosts). */
    record InternalError(int suberror, long[] data) implements VcpuExit {
    }

    /** KVM_RUN was interrupted by a signal or {@code immediate_exit} before or while running. */
    record Interrupted() implements VcpuExit {
    }

    /** Any other {@code exit_reason}, reported rather than guessed at. */
    record Other(int reason) implements VcpuExit {
    }
}
