#!/usr/bin/env python3
"""Cut jextract's --dump-includes output down to what BoxLite uses.

Usage: select-includes.py DUMP > includes.txt

The selection is explicit: every libc function and struct is named here, KVM structs are the
x86 ones (plus the kvm_run closure jextract insists on), and constants are kept by prefix.
Adding a binding means adding its name here and rerunning ./regenerate.
"""
import re
import sys

LIBC_FUNCTIONS = """
open openat close read write pread pwrite readv writev preadv pwritev lseek
ioctl fcntl dup dup3 pipe2
mmap munmap madvise mprotect msync memfd_create ftruncate fallocate fsync fdatasync flock
eventfd epoll_create1 epoll_ctl epoll_wait poll
signalfd timerfd_create timerfd_settime
socket socketpair bind listen connect accept4 shutdown sendmsg recvmsg getsockopt setsockopt
fstat fstatat fstatfs statx mkdirat unlinkat renameat2 linkat symlinkat readlinkat mknodat
fchmod fchmodat fchown fchownat utimensat futimens getdents64 faccessat copy_file_range
fgetxattr fsetxattr flistxattr fremovexattr lgetxattr llistxattr
prctl syscall getpid gettid getuid geteuid getgid tgkill kill getpagesize
pthread_sigmask pthread_self sigemptyset sigfillset sigaddset sigdelset sigismember sigtimedwait
tcgetattr tcsetattr cfmakeraw isatty
strerrordesc_np strerrorname_np __libc_current_sigrtmin __libc_current_sigrtmax
""".split()

LIBC_STRUCTS = """
iovec msghdr cmsghdr sockaddr sockaddr_un ucred pollfd epoll_event epoll_data
timespec itimerspec signalfd_siginfo termios winsize stat statfs statx
statx_timestamp open_how
""".split()

# Typedefs of anonymous structs: jextract names the class after the typedef.
LIBC_TYPEDEFS = "__sigset_t sigset_t __fsid_t".split()

# KVM structs for x86_64; kvm_run drags in the five structs after it.
KVM_STRUCTS = """
kvm_regs kvm_sregs kvm_sregs2 kvm_segment kvm_dtable kvm_fpu kvm_xsave kvm_xcrs kvm_xcr
kvm_msrs kvm_msr_entry kvm_msr_list kvm_msr_filter kvm_msr_filter_range
kvm_cpuid2 kvm_cpuid_entry2 kvm_lapic_state kvm_mp_state kvm_vcpu_events kvm_debugregs
kvm_userspace_memory_region kvm_run kvm_sync_regs kvm_debug_exit_arch kvm_hyperv_exit
kvm_xen_exit kvm_irq_level kvm_irqchip kvm_pic_state kvm_ioapic_state kvm_pit_config
kvm_pit_state2 kvm_pit_channel_state kvm_irqfd kvm_ioeventfd kvm_irq_routing
kvm_irq_routing_entry kvm_irq_routing_irqchip kvm_irq_routing_msi kvm_irq_routing_s390_adapter
kvm_irq_routing_hv_sint kvm_irq_routing_xen_evtchn kvm_msi kvm_signal_mask kvm_enable_cap
kvm_clock_data kvm_guest_debug kvm_guest_debug_arch kvm_coalesced_mmio_zone
kvm_coalesced_mmio_ring kvm_coalesced_mmio kvm_dirty_log kvm_dirty_gfn kvm_interrupt
kvm_translation kvm_tpr_access_ctl kvm_vapic_addr kvm_x86_mce kvm_create_device
kvm_device_attr kvm_one_reg kvm_reg_list
""".split()

CONSTANT_PREFIXES = (
    "KVM_", "BOXLITE_SYS_",
    # files, descriptors, memory
    "O_", "AT_", "F_", "FD_", "FALLOC_FL_", "LOCK_", "SEEK_", "RENAME_", "RESOLVE_", "S_IF",
    "STATX_", "XATTR_", "MAP_", "PROT_", "MADV_", "MFD_", "MS_",
    # events, signals, time
    "EFD_", "EPOLL", "POLL", "SFD_", "TFD_", "SIG", "SA_", "SI_", "CLOCK_",
    # sockets
    "AF_", "PF_UNIX", "SOCK_", "SOL_SOCKET", "SO_", "SCM_", "MSG_", "SHUT_",
    # terminals
    "TIOC", "TCSA", "ICANON", "ECHO", "ISIG", "IEXTEN", "IXON", "ICRNL", "OPOST", "VMIN", "VTIME",
    # process
    "PR_SET_NAME", "PR_GET_NAME", "PR_SET_PDEATHSIG", "PR_SET_CHILD_SUBREAPER",
    "PR_SET_NO_NEW_PRIVS", "PR_SET_DUMPABLE",
)
ERRNO = re.compile(r"^E[A-Z0-9]+$")

# Constants jextract cannot evaluate on x86 (non-x86 structs, PAGE_SIZE, function-like).
SKIP = set("""
KVM_ALLOCATE_RMA KVM_ARM_MTE_COPY_TAGS KVM_ARM_PREFERRED_TARGET KVM_ARM_VCPU_INIT
KVM_COALESCED_MMIO_MAX KVM_CREATE_SPAPR_TCE KVM_CREATE_SPAPR_TCE_64 KVM_S390_INT_IO
KVM_VM_TYPE_ARM_IPA_SIZE
""".split())

def main(path):
    want_fn, want_struct = set(LIBC_FUNCTIONS), set(LIBC_STRUCTS) | set(KVM_STRUCTS)
    want_struct |= set(LIBC_TYPEDEFS)
    out, seen_fn, seen_struct = [], set(), set()
    for line in open(path):
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith("--include-"):
            continue
        kind, name = parts[0], parts[1]
        header = line.split("# header:")[-1].strip() if "# header:" in line else ""
        keep = False
        if kind == "--include-function":
            keep = name in want_fn
            seen_fn.add(name) if keep else None
        elif kind == "--include-typedef":
            keep = name in LIBC_TYPEDEFS
            seen_struct.add(name) if keep else None
        elif kind in ("--include-struct", "--include-union"):
            keep = name in want_struct
            seen_struct.add(name) if keep else None
        elif kind == "--include-constant":
            if name in SKIP or name.startswith(("KVM_PPC_", "KVM_S390_", "KVM_ARM_", "KVM_RISCV_")):
                keep = False
            elif name.startswith("KVM_") and not header.endswith("kvm.h"):
                keep = True  # asm/kvm.h constants (KVM_NR_INTERRUPTS, KVM_IRQCHIP_*)
            else:
                keep = name.startswith(CONSTANT_PREFIXES) or bool(ERRNO.match(name))
        if keep:
            out.append(f"{kind} {name}")
    missing = (want_fn - seen_fn) | (want_struct - seen_struct)
    if missing:
        sys.exit("not found in the dump: " + " ".join(sorted(missing)))
    print("\n".join(sorted(set(out))))

if __name__ == "__main__":
    main(sys.argv[1])
