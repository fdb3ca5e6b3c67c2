/* reset: what Linux does for reboot=k — wait until the i8042 input buffer is empty, then pulse reset. */
#include "tg.h"

void guest_main(u64 zp, u32 cpu) {
    (void)zp;
    if (cpu != 0) for (;;) cpu_relax();
    puts("boxlite-testguest reset\n");
    for (int i = 0; i < 10; i++) {
        for (int j = 0; j < 0x10000 && (inb(0x64) & 0x02); j++) cpu_relax();
        outb(0x64, 0xFE);
    }
    puts("still running after reset\n");
    done(1);
}
