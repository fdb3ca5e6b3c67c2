/* BoxLite guest protocol: framing, message types and limits (docs/guest-protocol.md). */
#ifndef BOXLITE_PROTO_H
#define BOXLITE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAJOR 1
#define PROTO_MINOR 0
#define AGENT_VERSION "0.1.0"

#define HDR_LEN 8u
#define MAX_PAYLOAD (1u << 20)          /* any frame */
#define DATA_CHUNK (32u * 1024)         /* largest DATA payload the agent sends */
#define INITIAL_WINDOW (256u * 1024)    /* per stream, both directions */
#define MAX_WINDOW (1u << 30)
#define MAX_ARGS 4096u
#define MAX_ENVS 4096u
#define MAX_ARGV_ENV_BYTES (256u * 1024) /* sum of argv and env string lengths */
#define MAX_STR 4096u                   /* user, cwd, copy paths */
#define MAX_PING 64u

enum frame_type {
    T_HELLO = 0x01, T_ERROR = 0x02, T_PING = 0x03, T_PONG = 0x04,
    T_EXEC = 0x10, T_STARTED = 0x11, T_DATA = 0x12, T_EOF = 0x13, T_WINDOW = 0x14,
    T_SIGNAL = 0x15, T_RESIZE = 0x16, T_EXIT = 0x17,
    T_COPY_IN = 0x20, T_COPY_OUT = 0x21, T_COPY_DONE = 0x22,
    T_STATS_REQUEST = 0x30, T_STATS = 0x31,
    T_SHUTDOWN = 0x40, T_SHUTDOWN_ACK = 0x41,
};

enum stream_id { S_NONE = 0, S_STDIN = 1, S_STDOUT = 2, S_STDERR = 3 };

enum error_code {
    E_BAD_FRAME = 1, E_UNSUPPORTED = 2, E_BAD_REQUEST = 3, E_NOT_FOUND = 4,
    E_PERMISSION = 5, E_IO = 6, E_LIMIT = 7, E_INTERNAL = 8,
};

enum capability {
    CAP_PTY = 1u << 0, CAP_COPY = 1u << 1, CAP_STATS = 1u << 2, CAP_SHUTDOWN = 1u << 3,
    CAP_USER = 1u << 4,
};
#define AGENT_CAPS (CAP_PTY | CAP_COPY | CAP_STATS | CAP_SHUTDOWN | CAP_USER)

#define EXEC_TTY 1u
#define SIGNAL_GROUP 1u
#define COPY_IN_MKDIRS 1u
#define COPY_IN_NO_OVERWRITE 2u
#define COPY_OUT_FOLLOW 1u
#define SHUTDOWN_POWEROFF 1u
#define SHUTDOWN_REBOOT 2u
#define EXIT_EXITED 0u
#define EXIT_SIGNALED 1u
#define EXIT_TIMED_OUT 1u
#define EXIT_CORE 2u

struct frame {
    uint8_t type;
    uint8_t stream;
    uint32_t len;
    const uint8_t *payload;
};

/* Bounds-checked payload reader: any short read or bad value sets bad and yields zero. */
struct rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    const char *bad; /* first problem, NULL if none */
};

void rd_init(struct rd *r, const uint8_t *p, size_t len);
uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
/* A length-prefixed string of at most max bytes without NUL bytes, copied to the heap. */
char *rd_str(struct rd *r, size_t max, const char *what);
/* Fails unless every byte was consumed. */
int rd_end(struct rd *r);

/* Growable encode buffer, capped so that it never exceeds one frame. */
struct wb {
    uint8_t buf[HDR_LEN + 512];
    size_t len;
};
void wb_init(struct wb *w);
void wb_u8(struct wb *w, uint8_t v);
void wb_u16(struct wb *w, uint16_t v);
void wb_u32(struct wb *w, uint32_t v);
void wb_u64(struct wb *w, uint64_t v);
void wb_str(struct wb *w, const char *s);

void put_header(uint8_t *h, uint8_t type, uint8_t stream, uint32_t len);
/* Parses and validates a header; returns NULL or what is wrong with it. */
const char *parse_header(const uint8_t *h, struct frame *f);

/* Blocking I/O, used by the copy and control channels. */
int write_full(int fd, const void *buf, size_t len);
int frame_send(int fd, uint8_t type, uint8_t stream, const void *payload, uint32_t len);
int frame_send_wb(int fd, uint8_t type, uint8_t stream, const struct wb *w);
int send_error(int fd, uint32_t code, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reads one frame into buf (MAX_PAYLOAD bytes). Returns 1 on a frame, 0 on a clean end of
 * stream before a header, -1 on an I/O error or truncation, -2 on a malformed header
 * (*why says what is wrong). timeout_ms < 0 waits forever. */
int frame_recv(int fd, struct frame *f, uint8_t *buf, int timeout_ms, const char **why);
int send_hello(int fd);

#endif
