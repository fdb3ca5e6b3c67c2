package io.boxlite.kvm;

/** Puts a fresh vCPU in flat real mode at a code address: for probes and test guests. */
public final class RealMode {
    private RealMode() {
    }

    /** CS base and selector 0, so {@code rip} is the physical address of the first instruction. */
    public static void enter(VcpuFd vcpu, long codeAddress) {
        if (codeAddress < 0 || codeAddress > 0xFFFF) {
            throw new IllegalArgumentException("real-mode entry must lie in the first 64 KiB: 0x"
                    + Long.toHexString(codeAddress));
        }
        Sregs s = vcpu.sregs();
        Segment flatCode = new Segment(0, 0xFFFF, (short) 0, s.cs().type(), s.cs().present(), s.cs().dpl(),
                s.cs().db(), s.cs().s(), s.cs().l(), s.cs().g(), s.cs().avl(), s.cs().unusable());
        Segment flatData = new Segment(0, 0xFFFF, (short) 0, s.ds().type(), s.ds().present(), s.ds().dpl(),
                s.ds().db(), s.ds().s(), s.ds().l(), s.ds().g(), s.ds().avl(), s.ds().unusable());
        vcpu.setSregs(s.withBootState(flatCode, flatData, s.tr(), s.gdt(), s.idt(), s.cr0(), s.cr3(),
                s.cr4(), s.efer()));
        vcpu.setRegs(Regs.INITIAL.withRip(codeAddress));
    }
}
