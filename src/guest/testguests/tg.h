/* Shared helpers of the freestanding test guests: port I/O, COM1 output, the done port,
 * boot-timer milestones, CPUID, and the zero page offsets (Linux boot protocol). */
#ifndef TG_H
#define TG_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;

#define COM1 0x3F8
#define DONE_PORT 0xF4
#define BOOT_TIMER 0xC0000000UL
#define TEST_DEVICE 0xC0001000UL

/* boot_params offsets */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0C0
#define BP_EXT_RAMDISK_SIZE 0x0C4
#define BP_EXT_CMD_LINE_PTR 0x0C8
#define BP_E820_ENTRIES 0x1E8
#define BP_SETUP_SECTS 0x1F1
#define BP_BOOT_FLAG 0x1FE
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21C
#define BP_CMD_LINE_PTR 0x228
#define BP_CMDLINE_SIZE 0x238
#define BP_E820_TABLE 0x2D0

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void mmio_write32(u64 a, u32 v) { *(volatile u32 *)a = v; }
static inline u32 mmio_read32(u64 a) { return *(volatile u32 *)a; }
static inline void cpu_relax(void) { __asm__ volatile("pause"); }

static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline u8 rd8(u64 a) { return *(volatile u8 *)a; }
static inline u16 rd16(u64 a) { return *(volatile u16 *)a; }
static inline u32 rd32(u64 a) { return *(volatile u32 *)a; }
static inline u64 rd64(u64 a) { return *(volatile u64 *)a; }

void putc(char c);
void puts(const char *s);
void puthex(u64 v);
void putdec(u64 v);
void milestone(u32 v);
void done(u32 status) __attribute__((noreturn));
int streq_n(const char *a, const char *b, u64 n);
u64 strlen(const char *s);
const char *find_word(const char *s, const char *key);  /* "key=" value in a command line */
u64 parse_u64(const char *s);

/* Each guest: runs on every CPU that starts; zero_page is RSI at entry. */
void guest_main(u64 zero_page, u32 cpu);
#endif
