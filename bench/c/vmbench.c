/*
 * The C twin of bench/src/main/java/io/boxlite/bench/VmBenchmark.java: boots the same test
 * guest bzImage (exits.bzImage) through the same ioctls our Java VMM issues, and times
 *   setup N      — KVM_CREATE_VM … first guest exit (the guest's first instruction is an MMIO write), N runs
 *   pio COUNT R  — create + COUNT port-I/O exits + done, R runs: total / COUNT per exit
 *   mmio COUNT R — the same with MMIO exits
 * printing one line per run in nanoseconds. Build: make -C bench/c. Usage: vmbench IMAGE MODE ...
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM (64UL << 20)
#define CHECK(x) do { if ((x) < 0) { perror(#x); exit(1); } } while (0)

static uint8_t *image;
static long image_size;

static uint64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000UL + (uint64_t)t.tv_nsec;
}

static void w64(uint8_t *m, uint64_t a, uint64_t v) { memcpy(m + a, &v, 8); }
static void w32(uint8_t *m, uint64_t a, uint32_t v) { memcpy(m + a, &v, 4); }

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t l, uint8_t db) {
    memset(s, 0, sizeof *s);
    s->base = 0; s->limit = 0xFFFFFFFF; s->selector = sel; s->type = type; s->present = 1;
    s->s = type == 0xB && sel == 0x18 ? 0 : 1; s->l = l; s->db = db; s->g = 1;
}

/* One VM: returns the time of the first exit (setup) or of the done exit; exits counted in *n. */
static uint64_t run_vm(int kvm, const char *cmdline, int until_first_exit, uint64_t start, long *n) {
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(vm);
    uint8_t *mem = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) { perror("mmap"); exit(1); }
    struct kvm_userspace_memory_region r = {.slot = 0, .guest_phys_addr = 0, .memory_size = RAM,
                                            .userspace_addr = (uint64_t)mem};
    CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r));
    uint64_t idmap = 0xFFFBC000;
    CHECK(ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap));
    CHECK(ioctl(vm, KVM_SET_TSS_ADDR, 0xFFFBD000UL));
    CHECK(ioctl(vm, KVM_CREATE_IRQCHIP, 0));
    struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
    CHECK(ioctl(vm, KVM_CREATE_PIT2, &pit));

    long setup = (image[0x1F1] ? image[0x1F1] : 4) + 1;
    memcpy(mem + 0x100000, image + setup * 512, image_size - setup * 512);
    w64(mem, 0x500, 0); w64(mem, 0x508, 0x00AF9B000000FFFFUL); w64(mem, 0x510, 0x00CF93000000FFFFUL);
    w64(mem, 0x518, 0x008F8B000000FFFFUL);
    w64(mem, 0x9000, 0xA003);
    for (int g = 0; g < 4; g++) {
        w64(mem, 0xA000 + g * 8, (0xB000 + g * 0x1000) | 3);
        for (uint64_t i = 0; i < 512; i++) w64(mem, 0xB000 + g * 0x1000 + i * 8, ((uint64_t)g << 30) | (i << 21) | 0x83);
    }
    strcpy((char *)mem + 0x20000, cmdline);
    memcpy(mem + 0x7000 + 0x1F1, image + 0x1F1, 0x202 + image[0x201] - 0x1F1);
    w32(mem, 0x7000 + 0x228, 0x20000);
    w32(mem, 0x7000 + 0x238, (uint32_t)strlen(cmdline) + 1);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    CHECK(vcpu);
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) { perror("mmap kvm_run"); exit(1); }
    struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cpuid = {.c.nent = 256};
    CHECK(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid));
    for (unsigned i = 0; i < cpuid.c.nent; i++) {
        if (cpuid.e[i].function == 1) cpuid.e[i].ebx = (cpuid.e[i].ebx & 0xFFFF) | (1 << 16); /* APIC ID 0 */
    }
    CHECK(ioctl(vcpu, KVM_SET_CPUID2, &cpuid));
    struct kvm_sregs s;
    CHECK(ioctl(vcpu, KVM_GET_SREGS, &s));
    seg(&s.cs, 0x08, 0xB, 1, 0);
    seg(&s.ds, 0x10, 0x3, 0, 1); s.es = s.fs = s.gs = s.ss = s.ds;
    s.gdt.base = 0x500; s.gdt.limit = 31; s.idt.base = 0x520; s.idt.limit = 7;
    s.cr0 |= 0x80000001; s.cr3 = 0x9000; s.cr4 |= 0x20; s.efer |= 0x500;
    CHECK(ioctl(vcpu, KVM_SET_SREGS, &s));
    struct kvm_regs regs = {.rip = 0x100200, .rsp = 0x8FF0, .rbp = 0x8FF0, .rsi = 0x7000, .rflags = 2};
    CHECK(ioctl(vcpu, KVM_SET_REGS, &regs));

    uint64_t end = 0;
    for (;;) {
        CHECK(ioctl(vcpu, KVM_RUN, 0));
        (*n)++;
        if (until_first_exit) { end = now(); break; }
        if (run->exit_reason == KVM_EXIT_IO) {
            uint8_t *d = (uint8_t *)run + run->io.data_offset;
            if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0xF4) { end = now(); break; }
            if (run->io.direction == KVM_EXIT_IO_IN) memset(d, run->io.port == 0x3FD ? 0x60 : 0xFF, run->io.size);
        } else if (run->exit_reason == KVM_EXIT_MMIO) {
            if (!run->mmio.is_write) memset(run->mmio.data, 0xFF, run->mmio.len);
        } else {
            fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
            exit(1);
        }
    }
    (void)start;
    munmap(run, run_size);
    close(vcpu);
    close(vm);
    munmap(mem, RAM);
    return end;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: vmbench IMAGE setup RUNS | pio|mmio COUNT RUNS\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END); image_size = ftell(f); fseek(f, 0, SEEK_SET);
    image = malloc(image_size);
    if (fread(image, 1, image_size, f) != (size_t)image_size) { perror("read"); return 1; }
    fclose(f);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm);
    int setup = strcmp(argv[2], "setup") == 0;
    long count = setup ? 0 : atol(argv[3]);
    int runs = atoi(setup ? argv[3] : argv[4]);
    char cmdline[128];
    snprintf(cmdline, sizeof cmdline, "mode=%s count=%ld", setup ? "pio" : argv[2], count);
    for (int i = 0; i < runs; i++) {
        long n = 0;
        uint64_t t0 = now();
        uint64_t t1 = run_vm(kvm, cmdline, setup, t0, &n);
        if (setup) printf("%lu\n", t1 - t0);
        else printf("%.1f\n", (double)(t1 - t0) / (double)count);
    }
    return 0;
}
