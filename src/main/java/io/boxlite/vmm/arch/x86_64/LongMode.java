package io.boxlite.vmm.arch.x86_64;

import io.boxlite.kvm.DescriptorTable;
import io.boxlite.kvm.Regs;
import io.boxlite.kvm.Sregs;
import io.boxlite.kvm.VcpuFd;

/**
 * Puts a vCPU in 64-bit long mode at a kernel entry point, as the Linux 64-bit boot protocol
 * asks: paging on with the boot page tables, the boot GDT loaded, interrupts off, RSI = zero page.
 */
public final class LongMode {
    private LongMode() {
    }

    static final long CR0_PE = 0x1;
    static final long CR0_PG = 0x8000_0000L;
    static final long CR4_PAE = 0x20;
    static final long EFER_LME = 0x100;
    static final long EFER_LMA = 0x400;
    static final short FPU_CONTROL_WORD = 0x37F;
    static final int MXCSR = 0x1F80;

    /**
     * Sets segments, control registers, general registers and FPU of {@code vcpu} so it starts at
     * {@code rip} with stack {@code rsp} and {@code rsi} (the zero page for Linux).
     */
    public static void enter(VcpuFd vcpu, long rip, long rsp, long rsi) {
        Sregs s = vcpu.sregs();
        vcpu.setSregs(s.withBootState(Gdt.segment(1), Gdt.segment(2), Gdt.segment(3),
                new DescriptorTable(Layout.GDT_START, Gdt.LIMIT), new DescriptorTable(Layout.IDT_START, (short) 7),
                s.cr0() | CR0_PE | CR0_PG, PageTables.ROOT, s.cr4() | CR4_PAE, s.efer() | EFER_LME | EFER_LMA));
        vcpu.setRegs(Regs.INITIAL.withRip(rip).withRsp(rsp).withRbp(rsp).withRsi(rsi));
        vcpu.setFpu(FPU_CONTROL_WORD, MXCSR);
    }
}
