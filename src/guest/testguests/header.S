/*
 * A minimal bzImage: one 512-byte boot sector carrying the Linux setup header at 0x1F1, one
 * (unused) setup sector, then the protected-mode part, loaded by the VMM at 1 MiB. As in Linux,
 * the 32-bit entry is at its start and the 64-bit entry (the one we use) at +0x200.
 * Boot protocol: Documentation/arch/x86/boot.rst.
 */
    .section .setup, "a"
    .code16
    .org 0x1F1
setup_sects:        .byte 1
root_flags:         .word 0
syssize:            .long _syssize
ram_size:           .word 0
vid_mode:           .word 0xFFFF
root_dev:           .word 0
boot_flag:          .word 0xAA55
    .org 0x200
jump:               .byte 0xEB, header_end - 0x202
header:             .ascii "HdrS"
version:            .word 0x020F
realmode_swtch:     .long 0
start_sys_seg:      .word 0x1000
kernel_version:     .word 0
type_of_loader:     .byte 0
loadflags:          .byte 0x01          /* LOADED_HIGH */
setup_move_size:    .word 0
code32_start:       .long 0x100000
ramdisk_image:      .long 0
ramdisk_size:       .long 0
bootsect_kludge:    .long 0
heap_end_ptr:       .word 0
ext_loader_ver:     .byte 0
ext_loader_type:    .byte 0
cmd_line_ptr:       .long 0
initrd_addr_max:    .long 0x7FFFFFFF
kernel_alignment:   .long 0x200000
relocatable_kernel: .byte 0
min_alignment:      .byte 0
xloadflags:         .word 0x0001        /* XLF_KERNEL_64 */
cmdline_size:       .long 2047
hardware_subarch:   .long 0
hardware_subarch_data: .quad 0
payload_offset:     .long 0
payload_length:     .long 0
setup_data:         .quad 0
pref_address:       .quad 0x100000
init_size:          .long _init_size
handover_offset:    .long 0
kernel_info_offset: .long 0
header_end:
    .org 1024                           /* (setup_sects + 1) * 512 */

    .section .text.head, "ax"
    .code32
startup_32:
    ud2                                 /* the 32-bit entry is not supported */
    .org 0x200
    .code64
    .globl startup_64
startup_64:
    /* First instruction that leaves the guest: milestone 1 on the boot timer. */
    movl $0xC0000000, %eax
    movl $1, (%rax)
    movq %rsi, %r12                     /* zero page (boot CPU), or whatever the host gave an AP */
    movl $1, %eax
    cpuid
    shrl $24, %ebx                      /* initial APIC ID: this CPU's index */
    cmpl $TG_MAX_CPUS, %ebx
    jae 2f
    movl %ebx, %r13d
    leaq tg_stacks(%rip), %rsp
    movl %r13d, %eax
    incl %eax
    shlq $TG_STACK_SHIFT, %rax
    addq %rax, %rsp
    movq %r12, %rdi
    movl %r13d, %esi
    call guest_entry
2:  jmp 2b

    .section .bss
    .balign 4096
    .globl tg_stacks
tg_stacks:
    .skip TG_MAX_CPUS << TG_STACK_SHIFT
