#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void rd_init(struct rd *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->bad = NULL;
}

static const uint8_t *rd_take(struct rd *r, size_t n)
{
    if (r->bad)
        return NULL;
    if (n > r->len - r->off) {
        r->bad = "payload too short";
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t rd_u8(struct rd *r)
{
    const uint8_t *p = rd_take(r, 1);
    return p ? p[0] : 0;
}

uint16_t rd_u16(struct rd *r)
{
    const uint8_t *p = rd_take(r, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

uint32_t rd_u32(struct rd *r)
{
    const uint8_t *p = rd_take(r, 4);
    return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}

uint64_t rd_u64(struct rd *r)
{
    uint64_t hi = rd_u32(r);
    return (hi << 32) | rd_u32(r);
}

char *rd_str(struct rd *r, size_t max, const char *what)
{
    uint32_t n = rd_u32(r);
    if (r->bad)
        return NULL;
    if (n > max) {
        r->bad = what;
        return NULL;
    }
    const uint8_t *p = rd_take(r, n);
    if (!p)
        return NULL;
    if (memchr(p, 0, n)) {
        r->bad = "string contains a NUL byte";
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = "out of memory";
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

int rd_end(struct rd *r)
{
    if (!r->bad && r->off != r->len)
        r->bad = "trailing bytes after the message";
    return r->bad ? -1 : 0;
}

void wb_init(struct wb *w)
{
    w->len = HDR_LEN;
}

static void wb_put(struct wb *w, const void *p, size_t n)
{
    /* Callers write bounded messages; clip rather than overflow if one ever grows. */
    if (n > sizeof w->buf - w->len)
        n = sizeof w->buf - w->len;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void wb_u8(struct wb *w, uint8_t v) { wb_put(w, &v, 1); }

void wb_u16(struct wb *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wb_put(w, b, 2);
}

void wb_u32(struct wb *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wb_put(w, b, 4);
}

void wb_u64(struct wb *w, uint64_t v)
{
    wb_u32(w, (uint32_t)(v >> 32));
    wb_u32(w, (uint32_t)v);
}

void wb_str(struct wb *w, const char *s)
{
    size_t n = strlen(s);
    size_t room = sizeof w->buf - w->len - 4;
    if (n > room)
        n = room;
    wb_u32(w, (uint32_t)n);
    wb_put(w, s, n);
}

void put_header(uint8_t *h, uint8_t type, uint8_t stream, uint32_t len)
{
    h[0] = (uint8_t)(len >> 24);
    h[1] = (uint8_t)(len >> 16);
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    h[4] = type;
    h[5] = stream;
    h[6] = 0;
    h[7] = 0;
}

const char *parse_header(const uint8_t *h, struct frame *f)
{
    f->len = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
    f->type = h[4];
    f->stream = h[5];
    f->payload = NULL;
    if (f->len > MAX_PAYLOAD)
        return "frame payload exceeds the 1 MiB limit";
    if (h[6] || h[7])
        return "reserved header bytes are not zero";
    if (f->stream > S_STDERR)
        return "unknown stream id";
    return NULL;
}

int write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len); /* sockets and files; SIGPIPE is ignored */
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                poll(&pfd, 1, -1);
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int frame_send(int fd, uint8_t type, uint8_t stream, const void *payload, uint32_t len)
{
    uint8_t h[HDR_LEN];
    put_header(h, type, stream, len);
    if (write_full(fd, h, sizeof h) < 0)
        return -1;
    return len ? write_full(fd, payload, len) : 0;
}

int frame_send_wb(int fd, uint8_t type, uint8_t stream, const struct wb *w)
{
    uint8_t buf[sizeof w->buf];
    memcpy(buf, w->buf, w->len);
    put_header(buf, type, stream, (uint32_t)(w->len - HDR_LEN));
    return write_full(fd, buf, w->len);
}

int send_error(int fd, uint32_t code, int err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct wb w;
    wb_init(&w);
    wb_u32(&w, code);
    wb_u32(&w, (uint32_t)err);
    wb_str(&w, msg);
    return frame_send_wb(fd, T_ERROR, S_NONE, &w);
}

static int read_full(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
    size_t got = 0;
    while (got < len) {
        if (timeout_ms >= 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int r = poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return -1;
        }
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                poll(&pfd, 1, -1);
                continue;
            }
            return -1;
        }
        if (n == 0)
            return got == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}

int frame_recv(int fd, struct frame *f, uint8_t *buf, int timeout_ms, const char **why)
{
    uint8_t h[HDR_LEN];
    int r = read_full(fd, h, sizeof h, timeout_ms);
    if (r <= 0)
        return r;
    *why = parse_header(h, f);
    if (*why)
        return -2;
    if (f->len && read_full(fd, buf, f->len, timeout_ms) != 1)
        return -1;
    f->payload = buf;
    return 1;
}

int send_hello(int fd)
{
    struct wb w;
    wb_init(&w);
    wb_u16(&w, PROTO_MAJOR);
    wb_u16(&w, PROTO_MINOR);
    wb_u32(&w, AGENT_CAPS);
    wb_u32(&w, MAX_PAYLOAD);
    wb_u32(&w, INITIAL_WINDOW);
    wb_str(&w, "boxlite-agent " AGENT_VERSION);
    return frame_send_wb(fd, T_HELLO, S_NONE, &w);
}
