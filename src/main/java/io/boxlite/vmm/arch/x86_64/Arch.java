package io.boxlite.vmm.arch.x86_64;

import io.boxlite.InvalidArgumentException;
import io.boxlite.kvm.CpuidEntry;
import io.boxlite.kvm.MsrEntry;
import io.boxlite.kvm.VcpuFd;
import io.boxlite.kvm.VmFd;
import io.boxlite.vmm.arch.x86_64.acpi.AcpiTables;
import io.boxlite.vmm.arch.x86_64.acpi.MmioDeviceInfo;
import io.boxlite.vmm.loader.LoadedKernel;
import io.boxlite.vmm.loader.SetupHeader;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The x86_64 boot steps a VMM calls, in order: {@link #ramRanges}, {@link #configureVm} (before
 * any vCPU), {@link #placeInitrd}, {@link #writeBootStructures}, then per vCPU
 * {@link #configureVcpu} and, for those that start at the kernel entry, {@link #enterKernel}.
 */
public final class Arch {
    private Arch() {
    }

    static final long PAGE = 4096;
    static final long GIB = 1L << 30;

    /** Guest RAM of {@code bytes}: below the 32-bit MMIO hole, and the rest from 4 GiB. */
    public static List<GuestMemory.Range> ramRanges(long bytes) {
        if (bytes < 8L << 20 || bytes % PAGE != 0) {
            throw new InvalidArgumentException("guest memory must be at least 8 MiB and a multiple of 4 KiB: "
                    + bytes + " bytes");
        }
        List<GuestMemory.Range> out = new ArrayList<>();
        long low = Math.min(bytes, Layout.MMIO32_START);
        out.add(new GuestMemory.Range(GuestAddress.of(0), low));
        if (bytes > low) {
            out.add(new GuestMemory.Range(GuestAddress.of(Layout.RAM_64BIT_START), bytes - low));
        }
        return List.copyOf(out);
    }

    /** VM-wide setup: TSS and identity-map pages, in-kernel irqchip and PIT. Before vCPUs exist. */
    public static void configureVm(VmFd vm) {
        vm.setIdentityMapAddress(Layout.IDENTITY_MAP_START);
        vm.setTssAddress(Layout.TSS_START);
        vm.createIrqchip();
        vm.createPit2(true);
    }

    /**
     * Where an initrd of {@code size} bytes goes: page-aligned at the top of low RAM, under the
     * kernel's {@code initrd_addr_max}, above everything the kernel needs.
     */
    public static long placeInitrd(GuestMemory memory, LoadedKernel kernel, long size) {
        long lowEnd = memory.regions().getFirst().end();
        long max = kernel.header().map(h -> Math.min(lowEnd, h.initrdAddrMax() + 1)).orElse(lowEnd);
        long address = (max - size) & -PAGE;
        if (size <= 0 || address < kernel.end() || address + size > max) {
            throw new InvalidArgumentException("the initrd (" + size + " bytes) does not fit between the kernel's end "
                    + "(0x" + Long.toHexString(kernel.end()) + ") and 0x" + Long.toHexString(max)
                    + ": give the VM more memory");
        }
        return address;
    }

    /** The command-line capacity the kernel accepts, NUL included. */
    public static int cmdlineCapacity(LoadedKernel kernel) {
        return kernel.header().map(h -> (int) Math.min(Layout.CMDLINE_MAX_SIZE, h.cmdlineSize() + 1))
                .orElse(Layout.CMDLINE_MAX_SIZE);
    }

    /** Writes the GDT, page tables, command line, ACPI tables and zero page. */
    public static void writeBootStructures(GuestMemory memory, LoadedKernel kernel, KernelCmdline cmdline,
                                           Optional<ZeroPage.Initrd> initrd, int vcpus, List<MmioDeviceInfo> virtio) {
        Gdt.write(memory);
        PageTables.write(memory);
        byte[] line = cmdline.bytesWithNul();
        if (line.length > cmdlineCapacity(kernel)) {
            throw new InvalidArgumentException("kernel command line is " + line.length + " bytes with its NUL; "
                    + "this kernel takes " + cmdlineCapacity(kernel));
        }
        memory.write(GuestAddress.of(Layout.CMDLINE_START), line);
        long rsdp = AcpiTables.write(memory, Layout.ACPI_START, Layout.ACPI_SIZE,
                new AcpiTables.Config(vcpus, Layout.IOAPIC_START, Layout.LAPIC_START, virtio));
        Optional<SetupHeader> header = kernel.header();
        ZeroPage.write(memory, ZeroPage.build(header, Layout.CMDLINE_START, line.length, initrd,
                E820.of(memory.regions()), rsdp));
    }

    /** CPUID, MSRs and LAPIC of vCPU {@code index} of {@code count}; returns the MSRs written. */
    public static List<MsrEntry> configureVcpu(VcpuFd vcpu, List<CpuidEntry> supportedCpuid, int[] msrIndexList,
                                               int index, int count) {
        vcpu.setCpuid(Cpuid.normalise(supportedCpuid, index, count));
        List<MsrEntry> msrs = BootMsrs.apply(vcpu, msrIndexList);
        Lapic.configure(vcpu);
        return msrs;
    }

    /** Long mode at {@code entry} with the boot stack (or {@code rsp}) and RSI = the zero page. */
    public static void enterKernel(VcpuFd vcpu, long entry, long rsp) {
        LongMode.enter(vcpu, entry, rsp, Layout.ZERO_PAGE_START);
    }
}
