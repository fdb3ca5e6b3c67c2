package io.boxlite.kvm;

import io.boxlite.ErrorCode;
import io.boxlite.sys.Fd;
import io.boxlite.sys.Libc;
import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.kvm_cpuid2;
import io.boxlite.sys.gen.kvm_cpuid_entry2;
import io.boxlite.sys.gen.kvm_msr_list;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The KVM system handle ({@code /dev/kvm}): capability queries and VM creation.
 *
 * {@snippet :
 * try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm()) {
 *     // memory, irqchip, vCPUs …
 * }
 * }
 */
public final class Kvm implements AutoCloseable {
    /** The only KVM API version there has ever been. */
    public static final int API_VERSION = 12;
    public static final Path DEFAULT_DEVICE = Path.of("/dev/kvm");

    private final Fd fd;
    private final int vcpuMmapSize;

    private Kvm(Fd fd) {
        this.fd = fd;
        this.vcpuMmapSize = Ioctls.call(fd.value(), BoxliteSys.KVM_GET_VCPU_MMAP_SIZE(), 0, "KVM_GET_VCPU_MMAP_SIZE");
    }

    /** Opens {@code /dev/kvm}. */
    public static Kvm open() {
        return open(DEFAULT_DEVICE);
    }

    /**
     * Opens a KVM device node and checks its API version. Fails with advice when the node is
     * missing or not accessible.
     */
    public static Kvm open(Path device) {
        int r;
        try (Arena arena = Arena.ofConfined()) {
            r = Libc.open(arena.allocateFrom(device.toString()), BoxliteSys.O_RDWR() | BoxliteSys.O_CLOEXEC(), 0);
        }
        if (r < 0) {
            int errno = Libc.errno();
            throw new KvmException("open(" + device + ")", errno, adviceForOpen(device, errno));
        }
        Fd fd = Fd.adopt(r);
        try {
            int version = Ioctls.call(fd.value(), BoxliteSys.KVM_GET_API_VERSION(), 0, "KVM_GET_API_VERSION");
            if (version != API_VERSION) {
                throw new io.boxlite.BoxliteException(ErrorCode.ENGINE, device + " speaks KVM API version " + version
                        + ", not " + API_VERSION + "; this kernel's KVM cannot be used");
            }
            return new Kvm(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    static String adviceForOpen(Path device, int errno) {
        if (errno == BoxliteSys.ENOENT() || errno == BoxliteSys.ENXIO() || errno == BoxliteSys.ENODEV()) {
            return device + " is missing: enable hardware virtualization (VT-x/AMD-V) and load kvm_intel or "
                    + "kvm_amd, or use the QEMU engine (BOXLITE_ENGINE=qemu)";
        }
        if (errno == BoxliteSys.EACCES() || errno == BoxliteSys.EPERM()) {
            return "no permission to use " + device + ": add your user to the 'kvm' group "
                    + "(sudo usermod -aG kvm $USER, then log in again) or run as root";
        }
        return null;
    }

    /** {@code KVM_CHECK_EXTENSION}: 0 when unsupported, else a capability-specific positive value. */
    public int checkExtension(int capability) {
        return Ioctls.call(fd.value(), BoxliteSys.KVM_CHECK_EXTENSION(), capability, "KVM_CHECK_EXTENSION");
    }

    /** Size of each vCPU's shared {@code kvm_run} area. */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** {@code KVM_GET_SUPPORTED_CPUID}: what this host's KVM can expose to guests. */
    public List<CpuidEntry> supportedCpuid() {
        int max = 256;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cpuid = arena.allocate(kvm_cpuid2.sizeof() + max * kvm_cpuid_entry2.sizeof(), 8);
            kvm_cpuid2.nent(cpuid, max);
            Ioctls.call(fd.value(), BoxliteSys.KVM_GET_SUPPORTED_CPUID(), cpuid, "KVM_GET_SUPPORTED_CPUID");
            int n = kvm_cpuid2.nent(cpuid);
            MemorySegment entries = cpuid.asSlice(kvm_cpuid2.entries$offset());
            List<CpuidEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(CpuidEntry.read(kvm_cpuid_entry2.asSlice(entries, i)));
            }
            return List.copyOf(out);
        }
    }

    /** {@code KVM_GET_MSR_INDEX_LIST}: MSRs KVM saves and restores (not all are writable here). */
    public int[] msrIndexList() {
        int max = 1024;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment list = arena.allocate(kvm_msr_list.sizeof() + (long) max * Integer.BYTES, 8);
            kvm_msr_list.nmsrs(list, max);
            Ioctls.call(fd.value(), BoxliteSys.KVM_GET_MSR_INDEX_LIST(), list, "KVM_GET_MSR_INDEX_LIST");
            int n = kvm_msr_list.nmsrs(list);
            return list.asSlice(kvm_msr_list.sizeof(), (long) n * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
        }
    }

    /** Creates a VM with the default machine type. */
    public VmFd createVm() {
        int vmFd = Ioctls.call(fd.value(), BoxliteSys.KVM_CREATE_VM(), 0, "KVM_CREATE_VM");
        return new VmFd(Fd.adopt(vmFd), vcpuMmapSize);
    }

    @Override
    public void close() {
        fd.close();
    }
}
