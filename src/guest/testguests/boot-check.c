/*
 * boot-check: verifies from inside what the VMM set up — zero page, e820, command line,
 * initrd bytes, page tables, GDT/IDT/segments, control registers, CPUID leaves and the ACPI
 * tables — and reports each check on COM1 ("check NAME ok" / "check NAME FAIL ...") plus the
 * facts the host compares ("fact KEY VALUE"). Exit status on the done port: the failure count.
 */
#include "tg.h"

static u32 failures;

static void check(const char *name, int ok, const char *detail, u64 value) {
    puts("check ");
    puts(name);
    if (ok) {
        puts(" ok\n");
        return;
    }
    failures++;
    puts(" FAIL ");
    puts(detail);
    puts(" ");
    puthex(value);
    puts("\n");
}

static void fact(const char *key, u64 value) {
    puts("fact ");
    puts(key);
    puts(" ");
    puthex(value);
    puts("\n");
}

static u8 sum8(u64 a, u64 n) { u8 s = 0; for (u64 i = 0; i < n; i++) s += rd8(a + i); return s; }
static int sig(u64 a, const char *s) { return streq_n((const char *)a, s, 4); }

/* FNV-1a over guest memory: what the host recomputes from the initrd file. */
static u32 fnv1a(u64 a, u64 n) {
    u32 h = 2166136261u;
    for (u64 i = 0; i < n; i++) { h ^= rd8(a + i); h *= 16777619u; }
    return h;
}

extern char _kernel_start[], _kernel_end[];

static void check_zero_page(u64 zp, u64 *initrd, u64 *initrd_size, const char **cmdline) {
    check("zp.boot_flag", rd16(zp + BP_BOOT_FLAG) == 0xAA55, "boot_flag", rd16(zp + BP_BOOT_FLAG));
    check("zp.header", rd32(zp + BP_HEADER) == 0x53726448, "header", rd32(zp + BP_HEADER));
    check("zp.version", rd16(zp + BP_VERSION) == 0x020F, "our header's version not copied", rd16(zp + BP_VERSION));
    check("zp.setup_sects", rd8(zp + BP_SETUP_SECTS) == 1, "setup_sects", rd8(zp + BP_SETUP_SECTS));
    check("zp.type_of_loader", rd8(zp + BP_TYPE_OF_LOADER) == 0xFF, "type_of_loader", rd8(zp + BP_TYPE_OF_LOADER));
    check("zp.loadflags", (rd8(zp + BP_LOADFLAGS) & 1) == 1, "LOADED_HIGH", rd8(zp + BP_LOADFLAGS));
    u64 cmd = rd32(zp + BP_CMD_LINE_PTR) | ((u64)rd32(zp + BP_EXT_CMD_LINE_PTR) << 32);
    check("zp.cmd_line_ptr", cmd == 0x20000, "cmd_line_ptr", cmd);
    *cmdline = (const char *)cmd;
    u64 len = strlen(*cmdline);
    check("zp.cmdline_size", rd32(zp + BP_CMDLINE_SIZE) == len + 1, "cmdline_size vs strlen+1", rd32(zp + BP_CMDLINE_SIZE));
    puts("fact cmdline \"");
    puts(*cmdline);
    puts("\"\n");
    *initrd = rd32(zp + BP_RAMDISK_IMAGE) | ((u64)rd32(zp + BP_EXT_RAMDISK_IMAGE) << 32);
    *initrd_size = rd32(zp + BP_RAMDISK_SIZE) | ((u64)rd32(zp + BP_EXT_RAMDISK_SIZE) << 32);
    fact("initrd.address", *initrd);
    fact("initrd.size", *initrd_size);
    check("zp.acpi_rsdp_addr", rd64(zp + BP_ACPI_RSDP) == 0xE0000, "acpi_rsdp_addr", rd64(zp + BP_ACPI_RSDP));
}

static int e820_covers(u64 zp, u64 start, u64 end, u32 type) {
    u8 n = rd8(zp + BP_E820_ENTRIES);
    for (u32 i = 0; i < n; i++) {
        u64 e = zp + BP_E820_TABLE + i * 20;
        if (rd32(e + 16) == type && rd64(e) <= start && end <= rd64(e) + rd64(e + 8)) return 1;
    }
    return 0;
}

static void check_e820(u64 zp, u64 initrd, u64 initrd_size) {
    u8 n = rd8(zp + BP_E820_ENTRIES);
    check("e820.count", n >= 3 && n <= 128, "entries", n);
    u64 prev_end = 0;
    int sorted = 1;
    for (u32 i = 0; i < n && i < 128; i++) {
        u64 e = zp + BP_E820_TABLE + i * 20;
        puts("fact e820 ");
        puthex(rd64(e));
        puts(" ");
        puthex(rd64(e + 8));
        puts(" ");
        putdec(rd32(e + 16));
        puts("\n");
        if (rd64(e) < prev_end) sorted = 0;
        prev_end = rd64(e) + rd64(e + 8);
    }
    check("e820.sorted", sorted, "overlap or disorder", 0);
    check("e820.zero_page_in_ram", e820_covers(zp, zp, zp + 4096, 1), "zero page not RAM", zp);
    check("e820.kernel_in_ram", e820_covers(zp, (u64)_kernel_start, (u64)_kernel_end, 1), "kernel not RAM",
          (u64)_kernel_start);
    check("e820.acpi_reserved", e820_covers(zp, 0xE0000, 0xE0000 + 36, 2), "RSDP not in a reserved range", 0xE0000);
    if (initrd_size) {
        check("e820.initrd_in_ram", e820_covers(zp, initrd, initrd + initrd_size, 1), "initrd not RAM", initrd);
    }
}

static void check_initrd(u64 initrd, u64 size) {
    if (!size) {
        check("initrd.present", 0, "no initrd", 0);
        return;
    }
    check("initrd.aligned", (initrd & 0xFFF) == 0, "not page aligned", initrd);
    check("initrd.above_kernel", initrd >= (u64)_kernel_end, "overlaps the kernel", initrd);
    /* The host's initrd: "BXINITRD", then data, then a 32-bit byte sum of everything before it. */
    check("initrd.magic", size >= 12 && streq_n((const char *)initrd, "BXINITRD", 8), "magic", rd64(initrd));
    u32 sum = 0;
    for (u64 i = 0; i + 4 < size; i++) sum += rd8(initrd + i);
    check("initrd.sum", size >= 12 && sum == rd32(initrd + size - 4), "embedded sum mismatch", sum);
    fact("initrd.fnv1a", fnv1a(initrd, size));
}

static void check_paging(void) {
    u64 cr0, cr3, cr4, rflags;
    u32 lo, hi;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080));
    __asm__ volatile("pushfq; popq %0" : "=r"(rflags));
    u64 efer = lo | ((u64)hi << 32);
    check("cr0.pe_pg", (cr0 & 0x80000001UL) == 0x80000001UL, "cr0", cr0);
    check("cr4.pae", (cr4 & 0x20) != 0, "cr4", cr4);
    check("efer.lme_lma", (efer & 0x500) == 0x500, "efer", efer);
    check("rflags.if_clear", (rflags & 0x200) == 0, "rflags", rflags);
    check("cr3", (cr3 & ~0xFFFUL) == 0x9000, "cr3", cr3);
    u64 pml4 = cr3 & ~0xFFFUL;
    /* The CPU sets accessed (0x20) and dirty (0x40) bits as it walks: ignore them. */
    check("pml4[0]", (rd64(pml4) & ~0x60UL) == (0xA000 | 3), "pml4[0]", rd64(pml4));
    int bad = 0;
    u64 first_bad = 0;
    for (u64 g = 0; g < 4; g++) {
        u64 pdpte = rd64(0xA000 + g * 8) & ~0x60UL;
        if (pdpte != ((0xB000 + g * 0x1000) | 3)) { bad++; first_bad = pdpte; continue; }
        u64 pd = pdpte & ~0xFFFUL;
        for (u64 i = 0; i < 512; i++) {
            u64 want = (g << 30) | (i << 21) | 0x83;
            if ((rd64(pd + i * 8) & ~0x60UL) != want && !bad++) first_bad = pd + i * 8;
        }
    }
    check("page_tables.identity_4g_2m", bad == 0, "first bad entry", first_bad);
}

static void check_gdt(void) {
    struct __attribute__((packed)) { u16 limit; u64 base; } gdtr, idtr;
    u16 cs, ds, ss, tr;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    __asm__ volatile("sidt %0" : "=m"(idtr));
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    __asm__ volatile("mov %%ds, %0" : "=r"(ds));
    __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    __asm__ volatile("str %0" : "=r"(tr));
    check("gdtr", gdtr.base == 0x500 && gdtr.limit == 31, "gdtr base", gdtr.base);
    check("idtr", idtr.base == 0x520 && idtr.limit == 7, "idtr base", idtr.base);
    check("gdt[0]", rd64(0x500) == 0, "null", rd64(0x500));
    check("gdt[1].code64", rd64(0x508) == 0x00AF9B000000FFFFUL, "code", rd64(0x508));
    check("gdt[2].data", rd64(0x510) == 0x00CF93000000FFFFUL, "data", rd64(0x510));
    check("gdt[3].tss", rd64(0x518) == 0x008F8B000000FFFFUL, "tss", rd64(0x518));
    check("selectors", cs == 0x08 && ds == 0x10 && ss == 0x10 && tr == 0x18, "cs", cs);
}

static u32 check_cpuid(u32 cpu) {
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    check("cpuid.1.apic_id", (b >> 24) == cpu, "apic id", b >> 24);
    check("cpuid.1.hypervisor", (c >> 31) == 1, "ecx", c);
    check("cpuid.1.clflush_64", ((b >> 8) & 0xFF) == 8, "ebx", b);
    u32 logical = (b >> 16) & 0xFF;
    /* HTT must be set with more than one logical CPU; with one, KVM-PVM reports it set anyway. */
    check("cpuid.1.htt", logical <= 1 || ((d >> 28) & 1), "edx", d);
    check("cpuid.1.logical_count", logical >= 1, "ebx", b);
    cpuid(0x40000000, 0, &a, &b, &c, &d);
    check("cpuid.hypervisor_leaf", b == 0x4B4D564B && c == 0x564B4D56 && d == 0x4D && a >= 0x40000001, "ebx", b);
    cpuid(0xB, 0, &a, &b, &c, &d);
    check("cpuid.b.0.smt", d == cpu && (b & 0xFFFF) == 1 && ((c >> 8) & 0xFF) == 1, "edx", d);
    cpuid(0xB, 1, &a, &b, &c, &d);
    check("cpuid.b.1.core", d == cpu && ((c >> 8) & 0xFF) == 2 && (b & 0xFFFF) == logical, "ebx", b);
    fact("cpuid.count", b & 0xFFFF);
    return b & 0xFFFF;
}

static u64 find_table(u64 xsdt, const char *s) {
    u32 n = (rd32(xsdt + 4) - 36) / 8;
    for (u32 i = 0; i < n; i++) {
        u64 t = rd64(xsdt + 36 + i * 8);
        if (sig(t, s)) return t;
    }
    return 0;
}

static int contains(u64 a, u64 n, const char *s) {
    u64 k = strlen(s);
    for (u64 i = 0; i + k <= n; i++) if (streq_n((const char *)(a + i), s, k)) return 1;
    return 0;
}

static void check_acpi(u64 zp, u32 cpus) {
    u64 rsdp = rd64(zp + BP_ACPI_RSDP);
    check("acpi.rsdp.signature", streq_n((const char *)rsdp, "RSD PTR ", 8), "signature", rd64(rsdp));
    check("acpi.rsdp.checksum", sum8(rsdp, 20) == 0, "sum", sum8(rsdp, 20));
    check("acpi.rsdp.extended_checksum", rd8(rsdp + 15) >= 2 && sum8(rsdp, rd32(rsdp + 20)) == 0, "revision", rd8(rsdp + 15));
    u64 xsdt = rd64(rsdp + 24);
    check("acpi.xsdt", sig(xsdt, "XSDT") && sum8(xsdt, rd32(xsdt + 4)) == 0, "xsdt", xsdt);
    u64 fadt = find_table(xsdt, "FACP");
    check("acpi.fadt", fadt && sum8(fadt, rd32(fadt + 4)) == 0 && rd32(fadt + 4) >= 276, "fadt", fadt);
    if (!fadt) return;
    check("acpi.fadt.hw_reduced", (rd32(fadt + 112) >> 20) & 1, "flags", rd32(fadt + 112));
    check("acpi.fadt.reset_reg", rd8(fadt + 116) == 1 && rd64(fadt + 120) == 0x64 && rd8(fadt + 128) == 0xFE,
          "reset reg", rd64(fadt + 120));
    u64 dsdt = rd64(fadt + 140);
    check("acpi.dsdt", dsdt && dsdt == rd32(fadt + 40) && sig(dsdt, "DSDT") && sum8(dsdt, rd32(dsdt + 4)) == 0,
          "dsdt", dsdt);
    if (dsdt) {
        u32 len = rd32(dsdt + 4);
        check("acpi.dsdt.sb_scope", contains(dsdt, len, "_SB_"), "no \\_SB_", 0);
        check("acpi.dsdt.virtio_mmio", contains(dsdt, len, "LNRO0005"), "no LNRO0005 device", 0);
        check("acpi.dsdt.com1", contains(dsdt, len, "COM1"), "no COM1", 0);
    }
    u64 madt = find_table(xsdt, "APIC");
    check("acpi.madt", madt && sum8(madt, rd32(madt + 4)) == 0, "madt", madt);
    if (!madt) return;
    check("acpi.madt.lapic_address", rd32(madt + 36) == 0xFEE00000, "lapic", rd32(madt + 36));
    u32 lapics = 0, ioapic = 0, next_id = 0, ids_ok = 1;
    for (u64 p = madt + 44; p + 2 <= madt + rd32(madt + 4) && rd8(p + 1) >= 2; p += rd8(p + 1)) {
        if (rd8(p) == 0) {
            if (rd8(p + 3) != next_id++ || !(rd32(p + 4) & 1)) ids_ok = 0;
            lapics++;
        } else if (rd8(p) == 1 && rd32(p + 4) == 0xFEC00000) {
            ioapic++;
        }
    }
    check("acpi.madt.lapics", lapics == cpus && ids_ok, "local APICs", lapics);
    check("acpi.madt.ioapic", ioapic == 1, "IOAPICs", ioapic);
}

void guest_main(u64 zp, u32 cpu) {
    if (cpu != 0) {
        for (;;) cpu_relax();
    }
    milestone(2);
    puts("boxlite-testguest boot-check\n");
    u64 initrd, initrd_size;
    const char *cmdline;
    check_zero_page(zp, &initrd, &initrd_size, &cmdline);
    check_e820(zp, initrd, initrd_size);
    check_initrd(initrd, initrd_size);
    check_paging();
    check_gdt();
    u32 cpus = check_cpuid(cpu);
    check_acpi(zp, cpus);
    puts("result failures=");
    putdec(failures);
    puts("\n");
    milestone(3);
    done(failures);
}
