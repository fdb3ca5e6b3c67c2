package io.boxlite.kvm;

import io.boxlite.sys.EventFd;
import io.boxlite.sys.Fd;
import io.boxlite.sys.gen.BoxliteSys;
import io.boxlite.sys.gen.kvm_ioeventfd;
import io.boxlite.sys.gen.kvm_irq_level;
import io.boxlite.sys.gen.kvm_irqfd;
import io.boxlite.sys.gen.kvm_pit_config;
import io.boxlite.sys.gen.kvm_userspace_memory_region;
import io.boxlite.vmm.memory.GuestMemory;
import io.boxlite.vmm.memory.GuestRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalLong;

/** A KVM virtual machine: memory slots, in-kernel devices, interrupt and doorbell routing, vCPUs. */
public final class VmFd implements AutoCloseable {
    private final Fd fd;
    private final int vcpuMmapSize;

    VmFd(Fd fd, int vcpuMmapSize) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /**
     * Makes each region of {@code memory} guest RAM, in slots 0, 1, … in address order. The
     * memory must outlive this VM: unmapping RAM a running guest still sees is undefined.
     */
    public void registerMemory(GuestMemory memory) {
        List<GuestRegion> regions = memory.regions();
        for (int slot = 0; slot < regions.size(); slot++) {
            GuestRegion r = regions.get(slot);
            setUserMemoryRegion(slot, 0, r.base().value(), r.host());
        }
    }

    // Package-private: handing raw host memory to the kernel is only done for a GuestMemory.
    void setUserMemoryRegion(int slot, int flags, long guestAddress, MemorySegment host) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment region = kvm_userspace_memory_region.allocate(arena);
            kvm_userspace_memory_region.slot(region, slot);
            kvm_userspace_memory_region.flags(region, flags);
            kvm_userspace_memory_region.guest_phys_addr(region, guestAddress);
            kvm_userspace_memory_region.memory_size(region, host.byteSize());
            kvm_userspace_memory_region.userspace_addr(region, host.address());
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_USER_MEMORY_REGION(), region,
                    "KVM_SET_USER_MEMORY_REGION slot " + slot);
        }
    }

    /** {@code KVM_CHECK_EXTENSION} on this VM (some capabilities are per VM). */
    public int checkExtension(int capability) {
        return Ioctls.call(fd.value(), BoxliteSys.KVM_CHECK_EXTENSION(), capability, "KVM_CHECK_EXTENSION");
    }

    /** Three pages of guest-physical space the CPU needs for real-mode emulation on Intel. */
    public void setTssAddress(long address) {
        Ioctls.call(fd.value(), BoxliteSys.KVM_SET_TSS_ADDR(), address, "KVM_SET_TSS_ADDR");
    }

    /** One page for the identity map used by real-mode emulation on Intel. */
    public void setIdentityMapAddress(long address) {
        try (Arena arena = Arena.ofConfined()) {
            Ioctls.call(fd.value(), BoxliteSys.KVM_SET_IDENTITY_MAP_ADDR(),
                    arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_LONG, address), "KVM_SET_IDENTITY_MAP_ADDR");
        }
    }

    /** The in-kernel PIC, IOAPIC and per-vCPU LAPICs. Must precede vCPU creation. */
    public void createIrqchip() {
        Ioctls.call(fd.value(), BoxliteSys.KVM_CREATE_IRQCHIP(), 0, "KVM_CREATE_IRQCHIP");
    }

    /** The in-kernel i8254 PIT; {@code dummySpeaker} also claims port 0x61. */
    public void createPit2(boolean dummySpeaker) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment config = kvm_pit_config.allocate(arena);
            kvm_pit_config.flags(config, dummySpeaker ? BoxliteSys.KVM_PIT_SPEAKER_DUMMY() : 0);
            Ioctls.call(fd.value(), BoxliteSys.KVM_CREATE_PIT2(), config, "KVM_CREATE_PIT2");
        }
    }

    /** Drives interrupt line {@code irq} of the in-kernel irqchip high or low. */
    public void setIrqLine(int irq, boolean high) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment level = kvm_irq_level.allocate(arena);
            kvm_irq_level.irq(level, irq);
            kvm_irq_level.level(level, high ? 1 : 0);
            Ioctls.call(fd.value(), BoxliteSys.KVM_IRQ_LINE(), level, "KVM_IRQ_LINE " + irq);
        }
    }

    /** Signalling {@code event} injects an edge on {@code gsi} without leaving the kernel. */
    public void registerIrqfd(EventFd event, int gsi) {
        irqfd(event, gsi, 0, "KVM_IRQFD assign gsi " + gsi);
    }

    public void unregisterIrqfd(EventFd event, int gsi) {
        irqfd(event, gsi, BoxliteSys.KVM_IRQFD_FLAG_DEASSIGN(), "KVM_IRQFD deassign gsi " + gsi);
    }

    private void irqfd(EventFd event, int gsi, int flags, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment irqfd = kvm_irqfd.allocate(arena);
            kvm_irqfd.fd(irqfd, event.fd());
            kvm_irqfd.gsi(irqfd, gsi);
            kvm_irqfd.flags(irqfd, flags);
            Ioctls.call(fd.value(), BoxliteSys.KVM_IRQFD(), irqfd, name);
        }
    }

    /**
     * A guest MMIO write of {@code length} bytes to {@code address} (matching {@code dataMatch}
     * if given) signals {@code event} instead of exiting to user space: the virtio doorbell.
     */
    public void registerIoeventfd(EventFd event, long address, int length, OptionalLong dataMatch) {
        ioeventfd(event, address, length, dataMatch, 0, "KVM_IOEVENTFD assign");
    }

    public void unregisterIoeventfd(EventFd event, long address, int length, OptionalLong dataMatch) {
        ioeventfd(event, address, length, dataMatch, BoxliteSys.KVM_IOEVENTFD_FLAG_DEASSIGN(), "KVM_IOEVENTFD deassign");
    }

    private void ioeventfd(EventFd event, long address, int length, OptionalLong dataMatch, int flags, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment io = kvm_ioeventfd.allocate(arena);
            kvm_ioeventfd.addr(io, address);
            kvm_ioeventfd.len(io, length);
            kvm_ioeventfd.fd(io, event.fd());
            int f = flags;
            if (dataMatch.isPresent()) {
                kvm_ioeventfd.datamatch(io, dataMatch.getAsLong());
                f |= BoxliteSys.KVM_IOEVENTFD_FLAG_DATAMATCH();
            }
            kvm_ioeventfd.flags(io, f);
            Ioctls.call(fd.value(), BoxliteSys.KVM_IOEVENTFD(), io, name + " 0x" + Long.toHexString(address));
        }
    }

    /** Creates vCPU {@code id} and maps its {@code kvm_run} area. */
    public VcpuFd createVcpu(int id) {
        int vcpu = Ioctls.call(fd.value(), BoxliteSys.KVM_CREATE_VCPU(), id, "KVM_CREATE_VCPU " + id);
        return VcpuFd.create(Fd.adopt(vcpu), id, vcpuMmapSize);
    }

    @Override
    public void close() {
        fd.close();
    }
}
