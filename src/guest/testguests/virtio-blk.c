/*
 * virtio-blk: a minimal modern virtio-mmio driver for the block device in the first slot
 * (0xC0001000), as Linux's virtio_mmio + virtio_blk drive it: probe the registers, negotiate
 * VIRTIO_F_VERSION_1, set up queue 0 (8 entries, split ring), then
 *   1. read sector 0 (header, 512-byte data, status: a 3-descriptor chain) and report its
 *      FNV-1a hash,
 *   2. write sector 1 with a pattern the host checks in the disk file,
 * each kicked by a QueueNotify write (the host catches it with an ioeventfd: no exit) and
 * completed by polling the used ring; then the interrupt status must show "used buffer" and
 * clear on acknowledge. Status = the number of the first failed step, 0 when all passed.
 */
#include "tg.h"

#define DEV TEST_DEVICE
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_AVAIL_LO 0x090
#define R_AVAIL_HI 0x094
#define R_USED_LO 0x0a0
#define R_USED_HI 0x0a4
#define R_CONFIG 0x100

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8

#define QSIZE 8
#define F_NEXT 1
#define F_WRITE 2

struct desc { u64 addr; u32 len; u16 flags; u16 next; };

static struct desc table[QSIZE] __attribute__((aligned(16)));
static volatile u16 avail[2 + QSIZE + 1] __attribute__((aligned(2)));
static volatile u32 used[1 + 2 * QSIZE + 1] __attribute__((aligned(4)));  /* flags|idx, then {id, len} */
static u8 header[16] __attribute__((aligned(16)));
static u8 data[512] __attribute__((aligned(512)));
static volatile u8 status_byte;

static u32 reg(u32 off) { return mmio_read32(DEV + off); }
static void set(u32 off, u32 v) { mmio_write32(DEV + off, v); }
static void barrier(void) { __asm__ volatile("" ::: "memory"); }

static u16 used_idx(void) { return (u16)(used[0] >> 16); }

/* Submits header/data/status as one chain, kicks, polls the used ring; 0 on success. */
static int request(u32 type, u64 sector, u16 data_flags, u16 want_used) {
    for (int i = 0; i < 16; i++) header[i] = 0;
    header[0] = (u8)type;
    for (int i = 0; i < 8; i++) header[8 + i] = (u8)(sector >> (8 * i));
    status_byte = 0xff;
    table[0] = (struct desc){(u64)header, 16, F_NEXT, 1};
    table[1] = (struct desc){(u64)data, 512, (u16)(F_NEXT | data_flags), 2};
    table[2] = (struct desc){(u64)&status_byte, 1, F_WRITE, 0};
    u16 idx = avail[1];
    avail[2 + (idx % QSIZE)] = 0;
    barrier();
    avail[1] = (u16)(idx + 1);
    barrier();
    set(R_QUEUE_NOTIFY, 0);
    for (u64 spins = 0; used_idx() != want_used; spins++) {
        if (spins > 50000000ul) return 1;
        cpu_relax();
    }
    barrier();
    if (used[1 + 2 * ((want_used - 1) % QSIZE)] != 0) return 2;  /* id of the completed chain: head 0 */
    if (status_byte != 0) return 3;           /* VIRTIO_BLK_S_OK */
    return 0;
}

void guest_main(u64 zp, u32 cpu) {
    (void)zp;
    if (cpu != 0) for (;;) cpu_relax();
    puts("boxlite-testguest virtio-blk\n");
    if (reg(R_MAGIC) != 0x74726976u || reg(R_VERSION) != 2 || reg(R_DEVICE_ID) != 2) done(1);
    set(R_STATUS, 0);
    set(R_STATUS, S_ACK);
    set(R_STATUS, S_ACK | S_DRIVER);
    set(R_DEV_FEATURES_SEL, 1);
    if ((reg(R_DEV_FEATURES) & 1) == 0) done(2);       /* VIRTIO_F_VERSION_1 is bit 32 */
    set(R_DRV_FEATURES_SEL, 0);
    set(R_DRV_FEATURES, 0);
    set(R_DRV_FEATURES_SEL, 1);
    set(R_DRV_FEATURES, 1);
    set(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    if ((reg(R_STATUS) & S_FEATURES_OK) == 0) done(3);
    u32 capacity = reg(R_CONFIG);                       /* sectors, low half */
    set(R_QUEUE_SEL, 0);
    if (reg(R_QUEUE_NUM_MAX) < QSIZE || reg(R_QUEUE_READY) != 0) done(4);
    set(R_QUEUE_NUM, QSIZE);
    set(R_DESC_LO, (u32)(u64)table);
    set(R_DESC_HI, 0);
    set(R_AVAIL_LO, (u32)(u64)avail);
    set(R_AVAIL_HI, 0);
    set(R_USED_LO, (u32)(u64)used);
    set(R_USED_HI, 0);
    set(R_QUEUE_READY, 1);
    set(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    if ((reg(R_STATUS) & S_DRIVER_OK) == 0) done(5);

    int r = request(0 /* IN */, 0, F_WRITE, 1);
    if (r) done(10 + (u32)r);
    u64 h = 0xcbf29ce484222325ul;
    for (int i = 0; i < 512; i++) { h ^= data[i]; h *= 0x100000001b3ul; }
    puts("capacity ");
    putdec(capacity);
    puts(" sector0 fnv1a ");
    puthex(h);
    puts("\n");
    if ((reg(R_INT_STATUS) & 1) == 0) done(20);         /* the device raised "used buffer" */
    set(R_INT_ACK, 1);
    if ((reg(R_INT_STATUS) & 1) != 0) done(21);

    for (int i = 0; i < 512; i++) data[i] = (u8)(i * 7 + 3);
    r = request(1 /* OUT */, 1, 0, 2);
    if (r) done(30 + (u32)r);
    puts("sector1 written\n");
    done(0);
}
