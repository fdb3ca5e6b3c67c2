/*
 * exits: the benchmark guest. Command line "mode=pio|mmio count=N": N port writes to 0x10 or
 * N 32-bit MMIO writes to 0xC0001000 (both unclaimed by devices), then the done port.
 */
#include "tg.h"

void guest_main(u64 zp, u32 cpu) {
    if (cpu != 0) for (;;) cpu_relax();
    const char *cmdline = (const char *)(u64)rd32(zp + BP_CMD_LINE_PTR);
    const char *mode = find_word(cmdline, "mode");
    const char *count = find_word(cmdline, "count");
    u64 n = count ? parse_u64(count) : 1000;
    if (mode && streq_n(mode, "mmio", 4)) {
        for (u64 i = 0; i < n; i++) mmio_write32(TEST_DEVICE, (u32)i);
    } else {
        for (u64 i = 0; i < n; i++) outb(0x10, (u8)i);
    }
    done(0);
}
