package io.boxlite.vmm.arch.x86_64;

import io.boxlite.kvm.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * Per-vCPU CPUID normalisation of what {@code KVM_GET_SUPPORTED_CPUID} offers (after
 * Firecracker's {@code cpuid-normalization.md}): APIC IDs, topology (one socket, one thread per
 * core, {@code count} cores), the hypervisor bit and leaf, no PMU, no turbo, and on AMD no
 * IA32_ARCH_CAPABILITIES (this host's KVM rejects writes to it).
 */
public final class Cpuid {
    private Cpuid() {
    }

    public static final int HYPERVISOR_LEAF = 0x4000_0000;
    /** "KVMKVMKVM\0\0\0": what Linux looks for to use kvmclock and paravirt features. */
    static final int[] KVM_SIGNATURE = {0x4B4D_564B, 0x564B_4D56, 0x0000_004D};
    private static final int TOPOLOGY_LEAF = 0xB;
    private static final int FLAG_SIGNIFICANT_INDEX = 1;

    /** The leaves for vCPU {@code index} of {@code count}. */
    public static List<CpuidEntry> normalise(List<CpuidEntry> supported, int index, int count) {
        if (index < 0 || index >= count || count > 255) {
            throw new IllegalArgumentException("vCPU " + index + " of " + count);
        }
        boolean amd = isAmd(supported);
        int apicIdBits = 32 - Integer.numberOfLeadingZeros(Math.max(count - 1, 1));
        List<CpuidEntry> out = new ArrayList<>();
        boolean hypervisorLeaf = false;
        for (CpuidEntry e : supported) {
            int eax = e.eax();
            int ebx = e.ebx();
            int ecx = e.ecx();
            int edx = e.edx();
            switch (e.function()) {
                case 0x1 -> {
                    ebx = (index << 24) | (count << 16) | (8 << 8) | (ebx & 0xFF); // APIC ID, logical count, 64-byte CLFLUSH
                    ecx &= ~(1 << 15);    // PDCM: no perf capabilities MSR
                    ecx |= 1 << 31;       // running under a hypervisor
                    edx = count > 1 ? edx | (1 << 28) : edx & ~(1 << 28); // HTT: more than one logical CPU
                }
                case 0x4 -> eax = (eax & 0x3FFF) | ((count - 1) << 26); // cores per package; one thread per cache
                case 0x6 -> {
                    eax &= ~(1 << 1); // no turbo
                    ecx &= ~(1 << 3); // no frequency selection
                }
                case 0x7 -> {
                    if (amd && e.index() == 0) {
                        edx &= ~(1 << 29); // IA32_ARCH_CAPABILITIES absent
                    }
                }
                case 0xA -> {
                    eax = 0;
                    ebx = 0;
                    ecx = 0;
                    edx = 0;
                }
                case TOPOLOGY_LEAF -> {
                    continue; // rebuilt below
                }
                case 0x8000_0001 -> {
                    if (amd) {
                        ecx = count > 1 ? ecx | (1 << 1) : ecx & ~(1 << 1); // CmpLegacy
                    }
                }
                case 0x8000_0008 -> {
                    if (amd) {
                        ecx = (ecx & ~0xF0FF) | (apicIdBits << 12) | (count - 1); // ApicIdSize, NC
                    }
                }
                case 0x8000_001E -> {
                    if (amd) {
                        eax = index;      // extended APIC ID
                        ebx = index & 0xFF; // compute unit ID; one thread per unit
                        ecx = 0;          // node 0, one node
                    }
                }
                case HYPERVISOR_LEAF -> {
                    hypervisorLeaf = true;
                    eax = Math.max(eax, HYPERVISOR_LEAF + 1);
                    ebx = KVM_SIGNATURE[0];
                    ecx = KVM_SIGNATURE[1];
                    edx = KVM_SIGNATURE[2];
                }
                default -> {
                }
            }
            out.add(e.withRegisters(eax, ebx, ecx, edx));
        }
        if (!hypervisorLeaf) {
            out.add(new CpuidEntry(HYPERVISOR_LEAF, 0, 0, HYPERVISOR_LEAF + 1, KVM_SIGNATURE[0], KVM_SIGNATURE[1],
                    KVM_SIGNATURE[2]));
        }
        // Extended topology: level 0 = SMT (1 thread per core), level 1 = core (count cores), then invalid.
        out.add(new CpuidEntry(TOPOLOGY_LEAF, 0, FLAG_SIGNIFICANT_INDEX, 0, 1, (1 << 8), index));
        out.add(new CpuidEntry(TOPOLOGY_LEAF, 1, FLAG_SIGNIFICANT_INDEX, apicIdBits, count, (2 << 8) | 1, index));
        out.add(new CpuidEntry(TOPOLOGY_LEAF, 2, FLAG_SIGNIFICANT_INDEX, 0, 0, 2, index));
        return List.copyOf(out);
    }

    /** Whether leaf 0's vendor string is "AuthenticAMD" (or Hygon's). */
    public static boolean isAmd(List<CpuidEntry> leaves) {
        for (CpuidEntry e : leaves) {
            if (e.function() == 0) {
                return e.ebx() == 0x6874_7541 || e.ebx() == 0x6F67_7948; // "Auth…", "Hygo…"
            }
        }
        return false;
    }
}
