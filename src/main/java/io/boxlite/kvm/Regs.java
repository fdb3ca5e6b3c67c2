package io.boxlite.kvm;

import io.boxlite.sys.gen.kvm_regs;

import java.lang.foreign.MemorySegment;

/** The general-purpose registers of a vCPU ({@code struct kvm_regs}). */
public record Regs(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                   long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                   long rip, long rflags) {

    /** All zero except bit 1 of RFLAGS, which is reserved and always set. */
    public static final Regs INITIAL = new Regs(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2);

    public Regs withRip(long value) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, value, rflags);
    }

    public Regs withRsp(long value) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, value, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRbp(long value) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, value, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRsi(long value) {
        return new Regs(rax, rbx, rcx, rdx, value, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRdi(long value) {
        return new Regs(rax, rbx, rcx, rdx, rsi, value, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRax(long value) {
        return new Regs(value, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRflags(long value) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, value);
    }

    static Regs read(MemorySegment s) {
        return new Regs(kvm_regs.rax(s), kvm_regs.rbx(s), kvm_regs.rcx(s), kvm_regs.rdx(s), kvm_regs.rsi(s),
                kvm_regs.rdi(s), kvm_regs.rsp(s), kvm_regs.rbp(s), kvm_regs.r8(s), kvm_regs.r9(s), kvm_regs.r10(s),
                kvm_regs.r11(s), kvm_regs.r12(s), kvm_regs.r13(s), kvm_regs.r14(s), kvm_regs.r15(s),
                kvm_regs.rip(s), kvm_regs.rflags(s));
    }

    void write(MemorySegment s) {
        kvm_regs.rax(s, rax);
        kvm_regs.rbx(s, rbx);
        kvm_regs.rcx(s, rcx);
        kvm_regs.rdx(s, rdx);
        kvm_regs.rsi(s, rsi);
        kvm_regs.rdi(s, rdi);
        kvm_regs.rsp(s, rsp);
        kvm_regs.rbp(s, rbp);
        kvm_regs.r8(s, r8);
        kvm_regs.r9(s, r9);
        kvm_regs.r10(s, r10);
        kvm_regs.r11(s, r11);
        kvm_regs.r12(s, r12);
        kvm_regs.r13(s, r13);
        kvm_regs.r14(s, r14);
        kvm_regs.r15(s, r15);
        kvm_regs.rip(s, rip);
        kvm_regs.rflags(s, rflags);
    }
}
