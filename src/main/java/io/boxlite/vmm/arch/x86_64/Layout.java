package io.boxlite.vmm.arch.x86_64;

/**
 * The guest-physical memory map and fixed resources of an x86_64 VM (Firecracker's layout;
 * {@code docs/kvm-engine.md} draws it).
 */
public final class Layout {
    private Layout() {
    }

    /** GDT: 4 entries × 8 bytes (null, code, data, TSS). */
    public static final long GDT_START = 0x0000_0500L;
    /** IDT: one zero entry; the guest installs its own. */
    public static final long IDT_START = 0x0000_0520L;
    /** The zero page ({@code struct boot_params}), 4 KiB; its address goes to the kernel in RSI. */
    public static final long ZERO_PAGE_START = 0x0000_7000L;
    /** Initial RSP and RBP of the boot vCPU: a small stack below the page tables. */
    public static final long BOOT_STACK_POINTER = 0x0000_8FF0L;
    /** Page-map level 4 (the CR3 value). */
    public static final long PML4_START = 0x0000_9000L;
    /** Page-directory-pointer table: 4 entries, one per GiB below 4 GiB. */
    public static final long PDPT_START = 0x0000_A000L;
    /** Four page directories of 512 × 2 MiB entries each: an identity map of the low 4 GiB. */
    public static final long PD_START = 0x0000_B000L;
    /** How many GiB the boot page tables identity-map (2 MiB pages: 1 GiB pages fault on KVM-PVM). */
    public static final int IDENTITY_MAPPED_GIB = 4;
    /** The kernel command line, NUL-terminated. */
    public static final long CMDLINE_START = 0x0002_0000L;
    /** Longest command line we place, NUL included (Linux's COMMAND_LINE_SIZE on x86 is 2048). */
    public static final int CMDLINE_MAX_SIZE = 2048;
    /** End of usable base memory (640 KiB minus the EBDA); [this, 1 MiB) is reserved. */
    public static final long EBDA_START = 0x0009_FC00L;
    /** ACPI tables: RSDP first (where the BIOS-area scan finds it), then XSDT, FADT, MADT, DSDT. */
    public static final long ACPI_START = 0x000E_0000L;
    /** Room for the ACPI tables, up to 1 MiB. */
    public static final long ACPI_SIZE = 0x0002_0000L;
    /** 1 MiB: where the protected-mode kernel is loaded; initrd goes at the top of low RAM. */
    public static final long HIMEM_START = 0x0010_0000L;

    /** Start of the 32-bit MMIO hole; RAM stops here and resumes at {@link #RAM_64BIT_START}. */
    public static final long MMIO32_START = 0xC000_0000L;
    /** Size of the 32-bit MMIO hole (1 GiB). */
    public static final long MMIO32_SIZE = 0x4000_0000L;
    /** The boot-timer device: guest milestones (Firecracker's BOOT_DEVICE_MEM_START). */
    public static final long BOOT_TIMER_START = 0xC000_0000L;
    /** First virtio-mmio slot; slots are {@link #MMIO_SLOT_SIZE} apart. */
    public static final long MMIO_SLOTS_START = 0xC000_1000L;
    /** Size of each MMIO device slot (a virtio-mmio register window). */
    public static final long MMIO_SLOT_SIZE = 0x1000L;
    /** Where the in-kernel IOAPIC sits. */
    public static final long IOAPIC_START = 0xFEC0_0000L;
    /** Where each local APIC sits. */
    public static final long LAPIC_START = 0xFEE0_0000L;
    /** One page KVM on Intel uses for real-mode emulation's identity map (KVM_SET_IDENTITY_MAP_ADDR). */
    public static final long IDENTITY_MAP_START = 0xFFFB_C000L;
    /** Three pages KVM on Intel uses for the real-mode TSS (KVM_SET_TSS_ADDR). */
    public static final long TSS_START = 0xFFFB_D000L;
    /** RAM above the hole starts at 4 GiB. */
    public static final long RAM_64BIT_START = 0x1_0000_0000L;

    /** COM1: 8 ports. */
    public static final int SERIAL_PORT = 0x3F8;
    public static final int SERIAL_IRQ = 4;
    /** i8042 data port; the command/status port is {@code + 4}. */
    public static final int I8042_PORT = 0x60;
    /** The debug-exit ("done") port: a 1-, 2- or 4-byte write ends the VM with that status (QEMU's isa-debug-exit port). */
    public static final int DEBUG_EXIT_PORT = 0xF4;
    /** First GSI handed to devices (0–4 are the PIT, keyboard, cascade and COM ports). */
    public static final int FIRST_DEVICE_GSI = 5;
    /** Last legacy GSI of the IOAPIC. */
    public static final int LAST_DEVICE_GSI = 23;
}
