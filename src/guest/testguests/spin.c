/* spin: announces itself, then loops forever without exiting to the host: only a kick stops it. */
#include "tg.h"

void guest_main(u64 zp, u32 cpu) {
    (void)zp;
    if (cpu != 0) for (;;) cpu_relax();
    puts("boxlite-testguest spin\nspinning\n");
    volatile u64 n = 0;
    for (;;) n++;
}
