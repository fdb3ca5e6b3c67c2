#include "tg.h"

void *memset(void *d, int c, u64 n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
void *memcpy(void *d, const void *s, u64 n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; return d; }

void putc(char c) {
    while (!(inb(COM1 + 5) & 0x20)) cpu_relax();   /* LSR: transmit holding register empty */
    outb(COM1, (u8)c);
}

void puts(const char *s) { while (*s) putc(*s++); }

void puthex(u64 v) {
    char buf[19];
    int i = 18;
    buf[i] = 0;
    do { buf[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    puts(buf + i);
}

void putdec(u64 v) {
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts(buf + i);
}

void milestone(u32 v) { mmio_write32(BOOT_TIMER, v); }

void done(u32 status) {
    outl(DONE_PORT, status);
    for (;;) cpu_relax();
}

u64 strlen(const char *s) { u64 n = 0; while (s[n]) n++; return n; }

int streq_n(const char *a, const char *b, u64 n) {
    for (u64 i = 0; i < n; i++) if (a[i] != b[i]) return 0;
    return 1;
}

const char *find_word(const char *s, const char *key) {
    u64 k = strlen(key);
    for (const char *p = s; *p; p++) {
        if ((p == s || p[-1] == ' ') && streq_n(p, key, k) && p[k] == '=') return p + k + 1;
    }
    return 0;
}

u64 parse_u64(const char *s) {
    u64 v = 0;
    if (s[0] == '0' && s[1] == 'x') {
        for (s += 2;; s++) {
            int d = (*s >= '0' && *s <= '9') ? *s - '0' : (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10 : -1;
            if (d < 0) return v;
            v = v * 16 + (u64)d;
        }
    }
    for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (u64)(*s - '0');
    return v;
}

void guest_entry(u64 zero_page, u32 cpu) { guest_main(zero_page, cpu); done(0xDEAD); }
