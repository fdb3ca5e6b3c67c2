package io.boxlite.kvm;

import io.boxlite.sys.Fd;
import io.boxlite.sys.Libc;
import io.boxlite.sys.MemoryMapping;
import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.kvm_cpuid2;
import io.boxlite.sys.gen.kvm_cpuid_entry2;
import io.boxlite.sys.gen.kvm_fpu;
import io.boxlite.sys.gen.kvm_lapic_state;
import io.boxlite.sys.gen.kvm_mp_state;
import io.boxlite.sys.gen.kvm_msr_entry;
import io.boxlite.sys.gen.kvm_msrs;
import io.boxlite.sys.gen.kvm_regs;
import io.boxlite.sys.gen.kvm_run;
import io.boxlite.sys.gen.kvm_signal_mask;
import io.boxlite.sys.gen.kvm_sregs;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * One virtual CPU: register state and {@link #run()}. Run it on a dedicated platform thread:
 * {@code KVM_RUN} blocks inside a foreign call for as long as the guest runs, which would pin a
 * virtual thread's carrier (docs/threading.md).
 *
 * <p>{@code run()} is for one thread at a time; {@link #requestImmediateExit} may be called
 * from any thread.
 */
public final class VcpuFd implements AutoCloseable {
    private final Fd fd;
    private final int id;
    private final Arena arena;          // owns the kvm_run mapping and the errno capture
    private final MemorySegment run;    // the shared kvm_run area
    private final MemorySegment capture;

    private VcpuFd(Fd fd, int id, Arena arena, MemorySegment run) {
        this.fd = fd;
        this.id = id;
        this.arena = arena;
        this.run = run;
        this.capture = Libc.allocateCapture(arena);
    }

    static VcpuFd create(Fd fd, int id, int mmapSize) {
        Arena arena = Arena.ofShared();
        try {
            return new VcpuFd(fd, id, arena, MemoryMapping.shared(fd.value(), 0, mmapSize, arena));
        } catch (RuntimeException e) {
            arena.close();
            fd.close();
            throw e;
        }
    }

    public int id() {
        return id;
    }

    public Regs regs() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_regs.allocate(call);
            Ioctls.call(fd.value(), BoxliteSys.KVM_GET_REGS(), s, "KVM_GET_REGS");
            return Regs.read(s);
        }
    }

    public void setRegs(Regs regs) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_regs.allocate(call);
            regs.write(s);
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_REGS(), s, "KVM_SET_REGS");
        }
    }

    public Sregs sregs() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_sregs.allocate(call);
            Ioctls.call(fd.value(), BoxliteSys.KVM_GET_SREGS(), s, "KVM_GET_SREGS");
            return Sregs.read(s);
        }
    }

    public void setSregs(Sregs sregs) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_sregs.allocate(call);
            sregs.write(s);
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_SREGS(), s, "KVM_SET_SREGS");
        }
    }

    /** Sets the x87 control word and MXCSR; every other FPU field is zeroed. */
    public void setFpu(short fcw, int mxcsr) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_fpu.allocate(call);
            kvm_fpu.fcw(s, fcw);
            kvm_fpu.mxcsr(s, mxcsr);
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_FPU(), s, "KVM_SET_FPU");
        }
    }

    /** Sets the CPUID leaves this vCPU reports. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(kvm_cpuid2.sizeof() + entries.size() * kvm_cpuid_entry2.sizeof(), 8);
            kvm_cpuid2.nent(s, entries.size());
            MemorySegment array = s.asSlice(kvm_cpuid2.entries$offset());
            for (int i = 0; i < entries.size(); i++) {
                entries.get(i).write(kvm_cpuid_entry2.asSlice(array, i));
            }
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_CPUID2(), s, "KVM_SET_CPUID2");
        }
    }

    /**
     * Writes MSRs; returns how many KVM accepted, in order. KVM stops at the first MSR it
     * rejects, so callers should pass only MSRs they know the host supports.
     */
    public int setMsrs(List<MsrEntry> entries) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = msrs(call, entries);
            return Ioctls.call(fd.value(), BoxliteSys.KVM_SET_MSRS(), s, "KVM_SET_MSRS");
        }
    }

    /** Reads the given MSRs; the result holds those KVM could read, in order. */
    public List<MsrEntry> msrs(int... indices) {
        List<MsrEntry> request = new ArrayList<>();
        for (int index : indices) {
            request.add(new MsrEntry(index, 0));
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = msrs(call, request);
            int n = Ioctls.call(fd.value(), BoxliteSys.KVM_GET_MSRS(), s, "KVM_GET_MSRS");
            MemorySegment array = s.asSlice(kvm_msrs.entries$offset());
            List<MsrEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                MemorySegment e = kvm_msr_entry.asSlice(array, i);
                out.add(new MsrEntry(kvm_msr_entry.index(e), kvm_msr_entry.data(e)));
            }
            return List.copyOf(out);
        }
    }

    private static MemorySegment msrs(Arena call, List<MsrEntry> entries) {
        MemorySegment s = call.allocate(kvm_msrs.sizeof() + entries.size() * kvm_msr_entry.sizeof(), 8);
        kvm_msrs.nmsrs(s, entries.size());
        MemorySegment array = s.asSlice(kvm_msrs.entries$offset());
        for (int i = 0; i < entries.size(); i++) {
            MemorySegment e = kvm_msr_entry.asSlice(array, i);
            kvm_msr_entry.index(e, entries.get(i).index());
            kvm_msr_entry.data(e, entries.get(i).value());
        }
        return s;
    }

    /** The 1 KiB local APIC register page ({@code KVM_GET_LAPIC}). */
    public byte[] lapic() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_lapic_state.allocate(call);
            Ioctls.call(fd.value(), BoxliteSys.KVM_GET_LAPIC(), s, "KVM_GET_LAPIC");
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    public void setLapic(byte[] registers) {
        if (registers.length != kvm_lapic_state.sizeof()) {
            throw new IllegalArgumentException("LAPIC state is " + kvm_lapic_state.sizeof() + " bytes, got " + registers.length);
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_lapic_state.allocate(call);
            MemorySegment.copy(registers, 0, s, ValueLayout.JAVA_BYTE, 0, registers.length);
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_LAPIC(), s, "KVM_SET_LAPIC");
        }
    }

    /** {@code KVM_MP_STATE_*}: e.g. RUNNABLE (0) or INIT_RECEIVED (2) for an AP awaiting SIPI. */
    public int mpState() {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_mp_state.allocate(call);
            Ioctls.call(fd.value(), BoxliteSys.KVM_GET_MP_STATE(), s, "KVM_GET_MP_STATE");
            return kvm_mp_state.mp_state(s);
        }
    }

    public void setMpState(int state) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = kvm_mp_state.allocate(call);
            kvm_mp_state.mp_state(s, state);
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_MP_STATE(), s, "KVM_SET_MP_STATE");
        }
    }

    /**
     * The signal mask in force while this vCPU is inside {@code KVM_RUN} (bit n-1 = signal n):
     * lets a signal blocked elsewhere on the thread interrupt the guest only.
     */
    public void setSignalMask(long mask) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment s = call.allocate(kvm_signal_mask.sizeof() + Long.BYTES, 8);
            kvm_signal_mask.len(s, Long.BYTES); // the kernel's sigset is 8 bytes on x86-64
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, kvm_signal_mask.sizeof(), mask); // sigset follows the u32 len
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_SIGNAL_MASK(), s, "KVM_SET_SIGNAL_MASK");
        }
    }

    /**
     * Sets or clears {@code kvm_run.immediate_exit}: while set, {@code KVM_RUN} returns
     * {@link VcpuExit.Interrupted} at once instead of entering the guest. Any thread may call it.
     */
    public void requestImmediateExit(boolean exit) {
        kvm_run.immediate_exit(run, (byte) (exit ? 1 : 0));
    }

    /**
     * Enters the guest until it exits to user space, and decodes why. The returned exit's
     * {@code data} segments are valid until the next call.
     */
    public VcpuExit run() {
        int r = Libc.ioctl(capture, fd.value(), BoxliteSys.KVM_RUN(), MemorySegment.NULL);
        if (r < 0) {
            int errno = Libc.errno(capture);
            if (errno == BoxliteSys.EINTR() || errno == BoxliteSys.EAGAIN()) {
                return new VcpuExit.Interrupted();
            }
            throw new KvmException("ioctl(KVM_RUN) on vCPU " + id, errno);
        }
        int reason = kvm_run.exit_reason(run);
        if (reason == BoxliteSys.KVM_EXIT_IO()) {
            return ioExit(kvm_run.io(run));
        } else if (reason == BoxliteSys.KVM_EXIT_MMIO()) {
            MemorySegment m = kvm_run.mmio(run);
            int len = kvm_run.mmio.len(m);
            if (len < 1 || len > 8) {
                throw KvmException.protocol("KVM_EXIT_MMIO with length " + len + " on vCPU " + id);
            }
            MemorySegment data = kvm_run.mmio.data(m).asSlice(0, len);
            long address = kvm_run.mmio.phys_addr(m);
            return kvm_run.mmio.is_write(m) != 0
                    ? new VcpuExit.MmioWrite(address, data.toArray(ValueLayout.JAVA_BYTE))
                    : new VcpuExit.MmioRead(address, data);
        } else if (reason == BoxliteSys.KVM_EXIT_HLT()) {
            return new VcpuExit.Hlt();
        } else if (reason == BoxliteSys.KVM_EXIT_SHUTDOWN()) {
            return new VcpuExit.Shutdown();
        } else if (reason == BoxliteSys.KVM_EXIT_INTR()) {
            return new VcpuExit.Interrupted();
        } else if (reason == BoxliteSys.KVM_EXIT_SYSTEM_EVENT()) {
            return new VcpuExit.SystemEvent(kvm_run.system_event.type(kvm_run.system_event(run)));
        } else if (reason == BoxliteSys.KVM_EXIT_FAIL_ENTRY()) {
            MemorySegment f = kvm_run.fail_entry(run);
            return new VcpuExit.FailEntry(kvm_run.fail_entry.hardware_entry_failure_reason(f), kvm_run.fail_entry.cpu(f));
        } else if (reason == BoxliteSys.KVM_EXIT_INTERNAL_ERROR()) {
            MemorySegment e = kvm_run.internal(run);
            int n = Math.min(Math.max(kvm_run.internal.ndata(e), 0), 16);
            long[] data = new long[n];
            for (int i = 0; i < n; i++) {
                data[i] = kvm_run.internal.data(e, i);
            }
            return new VcpuExit.InternalError(kvm_run.internal.suberror(e), data);
        }
        return new VcpuExit.Other(reason);
    }

    private VcpuExit ioExit(MemorySegment io) {
        int size = Byte.toUnsignedInt(kvm_run.io.size(io));
        int count = kvm_run.io.count(io);
        int port = Short.toUnsignedInt(kvm_run.io.port(io));
        long offset = kvm_run.io.data_offset(io);
        long length = (long) size * count;
        if (size == 0 || count <= 0 || offset < 0 || offset > run.byteSize() || length > run.byteSize() - offset) {
            throw KvmException.protocol("KVM_EXIT_IO with data outside kvm_run (port 0x" + Integer.toHexString(port)
                    + ", size " + size + ", count " + count + ", offset " + offset + ") on vCPU " + id);
        }
        MemorySegment data = run.asSlice(offset, length);
        return kvm_run.io.direction(io) == BoxliteSys.KVM_EXIT_IO_OUT()
                ? new VcpuExit.IoOut(port, size, count, data.toArray(ValueLayout.JAVA_BYTE))
                : new VcpuExit.IoIn(port, size, count, data);
    }

    /** Unmaps {@code kvm_run} and closes the vCPU; the vCPU thread must have left {@code run()}. */
    @Override
    public void close() {
        try {
            fd.close();
        } finally {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }
}
