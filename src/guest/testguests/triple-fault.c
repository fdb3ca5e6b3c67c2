/* triple-fault: an empty IDT, then a fault: #GP cannot be delivered, #DF neither, so the CPU shuts down. */
#include "tg.h"

void guest_main(u64 zp, u32 cpu) {
    (void)zp;
    if (cpu != 0) for (;;) cpu_relax();
    puts("boxlite-testguest triple-fault\n");
    struct __attribute__((packed)) { u16 limit; u64 base; } empty = {0, 0};
    __asm__ volatile("lidt %0" : : "m"(empty));
    volatile u64 *noncanonical = (volatile u64 *)0x8000000000000000UL;
    *noncanonical = 1;                  /* #GP */
    puts("still running after the fault\n");
    done(1);
}
