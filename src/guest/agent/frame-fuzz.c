/* frame-fuzz: proves the agent survives malformed frames. For each round it opens a channel,
 * sends random or mutated frames (never a well-formed SHUTDOWN), closes it, and checks that a
 * fresh channel still answers PING. Exit status 0 when every check passed.
 * usage: frame-fuzz SOCKET_PATH SEED ROUNDS */
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *path;
static uint64_t rng;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static int dial(void)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof un) < 0) {
        fprintf(stderr, "frame-fuzz: connect %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

static uint8_t buf[MAX_PAYLOAD];

static int expect_hello(int fd)
{
    struct frame f;
    const char *why;
    return frame_recv(fd, &f, buf, 5000, &why) == 1 && f.type == T_HELLO ? 0 : -1;
}

static int ping_ok(void)
{
    int fd = dial();
    struct frame f;
    const char *why;
    int ok = expect_hello(fd) == 0 && frame_send(fd, T_PING, 0, "fz", 2) == 0 &&
             frame_recv(fd, &f, buf, 5000, &why) == 1 && f.type == T_PONG && f.len == 2 && !memcmp(buf, "fz", 2);
    close(fd);
    return ok;
}

/* A plausible frame for the first position: a known request type with a mutated payload. */
static size_t make_frame(uint8_t *out, size_t cap)
{
    static const uint8_t types[] = {T_EXEC, T_COPY_IN, T_COPY_OUT, T_PING, T_STATS_REQUEST, T_DATA,
                                    T_WINDOW, T_SIGNAL, T_RESIZE, T_EOF, T_HELLO, 0x00, 0xff};
    uint8_t type = types[next() % sizeof types];
    uint32_t len = next() % 64;
    uint32_t claimed = len;
    switch (next() % 6) {
    case 0: claimed = MAX_PAYLOAD + 1 + next() % 1000; break; /* oversize */
    case 1: claimed = len + 1 + next() % 100; break;          /* truncated */
    case 2: claimed = 0xffffffffu; break;
    default: break;
    }
    if (HDR_LEN + len > cap)
        len = (uint32_t)(cap - HDR_LEN);
    put_header(out, type, (uint8_t)(next() % 5), claimed);
    if (next() % 4 == 0)
        out[6] = (uint8_t)next(); /* reserved byte */
    for (uint32_t i = 0; i < len; i++)
        out[HDR_LEN + i] = (uint8_t)next();
    if (type == T_EXEC && len >= 20) {
        /* empty user and cwd: a rare well-formed EXEC then runs random argv[0] bytes (not found) */
        memset(out + HDR_LEN + 12, 0, 8);
    }
    return HDR_LEN + len;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: frame-fuzz SOCKET_PATH SEED ROUNDS\n");
        return 2;
    }
    path = argv[1];
    rng = strtoull(argv[2], NULL, 10) * 2654435761u + 1;
    long rounds = strtol(argv[3], NULL, 10);
    int errors_seen = 0;
    for (long r = 0; r < rounds; r++) {
        int fd = dial();
        if (expect_hello(fd) < 0) {
            fprintf(stderr, "frame-fuzz: round %ld: no HELLO\n", r);
            return 1;
        }
        uint8_t frame[HDR_LEN + 64];
        size_t n = make_frame(frame, sizeof frame);
        if (frame[4] == T_SHUTDOWN)
            frame[4] = T_PING;
        if (write_full(fd, frame, n) == 0) {
            /* Half-close so truncated frames end; the agent must answer ERROR or just close. */
            shutdown(fd, SHUT_WR);
            struct frame f;
            const char *why;
            int got;
            while ((got = frame_recv(fd, &f, buf, 5000, &why)) == 1)
                if (f.type == T_ERROR)
                    errors_seen++;
            if (got == -2) {
                fprintf(stderr, "frame-fuzz: round %ld: the agent sent a malformed frame: %s\n", r, why);
                return 1;
            }
        }
        close(fd);
        if (!ping_ok()) {
            fprintf(stderr, "frame-fuzz: round %ld: the agent no longer answers PING\n", r);
            return 1;
        }
    }
    printf("frame-fuzz: %ld rounds, %d ERROR replies, agent still answering\n", rounds, errors_seen);
    return errors_seen > 0 ? 0 : 1;
}
