package io.boxlite.kvm;

import io.boxlite.sys.gen.kvm_cpuid_entry2;

import java.lang.foreign.MemorySegment;

/** One CPUID leaf ({@code struct kvm_cpuid_entry2}). */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    static CpuidEntry read(MemorySegment e) {
        return new CpuidEntry(kvm_cpuid_entry2.function(e), kvm_cpuid_entry2.index(e), kvm_cpuid_entry2.flags(e),
                kvm_cpuid_entry2.eax(e), kvm_cpuid_entry2.ebx(e), kvm_cpuid_entry2.ecx(e), kvm_cpuid_entry2.edx(e));
    }

    void write(MemorySegment e) {
        kvm_cpuid_entry2.function(e, function);
        kvm_cpuid_entry2.index(e, index);
        kvm_cpuid_entry2.flags(e, flags);
        kvm_cpuid_entry2.eax(e, eax);
        kvm_cpuid_entry2.ebx(e, ebx);
        kvm_cpuid_entry2.ecx(e, ecx);
        kvm_cpuid_entry2.edx(e, edx);
    }

    public CpuidEntry withRegisters(int eax, int ebx, int ecx, int edx) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, edx);
    }
}
