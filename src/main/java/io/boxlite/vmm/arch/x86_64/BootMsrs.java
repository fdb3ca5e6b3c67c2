package io.boxlite.vmm.arch.x86_64;

import io.boxlite.kvm.MsrEntry;
import io.boxlite.kvm.VcpuFd;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The MSRs a vCPU starts with (Firecracker's boot MSRs). Never written blindly: only MSRs this
 * host's KVM lists ({@code KVM_GET_MSR_INDEX_LIST}) are tried, and {@code KVM_SET_MSRS}, which
 * stops at the first MSR it rejects, is retried past each rejected one, which is logged and dropped.
 */
public final class BootMsrs {
    private static final System.Logger LOG = System.getLogger(BootMsrs.class.getName());

    private BootMsrs() {
    }

    public static final int IA32_TSC = 0x10;
    public static final int IA32_SYSENTER_CS = 0x174;
    public static final int IA32_SYSENTER_ESP = 0x175;
    public static final int IA32_SYSENTER_EIP = 0x176;
    public static final int IA32_MISC_ENABLE = 0x1A0;
    public static final int MTRR_DEF_TYPE = 0x2FF;
    public static final int STAR = 0xC000_0081;
    public static final int LSTAR = 0xC000_0082;
    public static final int CSTAR = 0xC000_0083;
    public static final int SYSCALL_MASK = 0xC000_0084;
    public static final int KERNEL_GS_BASE = 0xC000_0102;
    static final long MISC_ENABLE_FAST_STRING = 1;
    static final long MTRR_ENABLE_WRITE_BACK = (1 << 11) | 6;

    /** The wanted values, in the order they are written. */
    public static List<MsrEntry> wanted() {
        return List.of(new MsrEntry(IA32_SYSENTER_CS, 0), new MsrEntry(IA32_SYSENTER_ESP, 0),
                new MsrEntry(IA32_SYSENTER_EIP, 0), new MsrEntry(STAR, 0), new MsrEntry(CSTAR, 0),
                new MsrEntry(KERNEL_GS_BASE, 0), new MsrEntry(SYSCALL_MASK, 0), new MsrEntry(LSTAR, 0),
                new MsrEntry(IA32_TSC, 0), new MsrEntry(IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
                new MsrEntry(MTRR_DEF_TYPE, MTRR_ENABLE_WRITE_BACK));
    }

    /** Writes the wanted MSRs KVM lists and accepts; returns those written. */
    public static List<MsrEntry> apply(VcpuFd vcpu, int[] kvmIndexList) {
        Set<Integer> listed = IntStream.of(kvmIndexList).boxed().collect(Collectors.toSet());
        List<MsrEntry> pending = new ArrayList<>();
        for (MsrEntry e : wanted()) {
            if (listed.contains(e.index())) {
                pending.add(e);
            } else {
                LOG.log(System.Logger.Level.DEBUG, "MSR 0x{0} not in KVM_GET_MSR_INDEX_LIST: not set",
                        Integer.toHexString(e.index()));
            }
        }
        List<MsrEntry> written = new ArrayList<>();
        while (!pending.isEmpty()) {
            int n = vcpu.setMsrs(pending);
            written.addAll(pending.subList(0, n));
            if (n == pending.size()) {
                break;
            }
            LOG.log(System.Logger.Level.DEBUG, "KVM_SET_MSRS rejected MSR 0x{0} on this host: dropped",
                    Integer.toHexString(pending.get(n).index()));
            pending = new ArrayList<>(pending.subList(n + 1, pending.size()));
        }
        return List.copyOf(written);
    }
}
