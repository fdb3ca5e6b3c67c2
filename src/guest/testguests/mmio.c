/*
 * mmio: a 32-bit write and a read-back on the test device the host registers at 0xC0001000
 * (first virtio-mmio slot). The host device answers a read at +4 with the complement of the
 * last value written at +0, so a pass proves both accesses reached it (RAM would not invert).
 */
#include "tg.h"

void guest_main(u64 zp, u32 cpu) {
    (void)zp;
    if (cpu != 0) for (;;) cpu_relax();
    puts("boxlite-testguest mmio\n");
    u32 value = 0x1234ABCDu;
    mmio_write32(TEST_DEVICE, value);
    u32 back = mmio_read32(TEST_DEVICE + 4);
    puts("mmio wrote ");
    puthex(value);
    puts(" read ");
    puthex(back);
    puts("\n");
    done(back == ~value ? 0 : 1);
}
