/*
 * smp: the boot CPU waits for the second CPU, which the host made runnable at the same entry
 * with its own registers; the AP checks its APIC ID and that it runs on its own stack, and
 * reports through shared memory. Status 0 when the AP checked in correctly.
 */
#include "tg.h"

extern char tg_stacks[];
static volatile u32 ap_report;

void guest_main(u64 zp, u32 cpu) {
    (void)zp;
    u64 rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    if (cpu != 0) {
        u64 lo = (u64)tg_stacks + ((u64)cpu << TG_STACK_SHIFT);
        u64 hi = lo + (1UL << TG_STACK_SHIFT);
        u32 a, b, c, d;
        cpuid(1, 0, &a, &b, &c, &d);
        ap_report = 0xA9000000u | ((b >> 24) << 8) | (rsp > lo && rsp <= hi ? 1 : 0);
        for (;;) cpu_relax();
    }
    puts("boxlite-testguest smp\n");
    /* A few seconds on KVM-PVM, where each iteration is emulated (~15 µs); a blink on hardware KVM. */
    for (u64 i = 0; i < 200000UL && ap_report == 0; i++) __asm__ volatile("" ::: "memory");
    u32 r = ap_report;
    puts("ap report ");
    puthex(r);
    puts("\n");
    if (r == 0) {
        puts("ap never ran\n");
        done(2);
    }
    puts((r & 0xFF) == 1 ? "ap stack ok\n" : "ap stack WRONG\n");
    puts("ap apic id ");
    putdec((r >> 8) & 0xFF);
    puts("\n");
    done(((r >> 8) & 0xFF) == 1 && (r & 0xFF) == 1 ? 0 : 1);
}
