/* Connection dispatch and the control channel: PING, STATS_REQUEST, SHUTDOWN. */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

static uint8_t payload_buf[MAX_PAYLOAD];

/* Half-closes and drains briefly, so the peer reads everything we sent (an unread receive
 * queue would turn our close into a reset that may discard it). */
static void close_gracefully(int fd)
{
    shutdown(fd, SHUT_WR);
    uint64_t until = now_ms() + 1000;
    for (;;) {
        uint64_t now = now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (now >= until || poll(&p, 1, (int)(until - now)) <= 0)
            break;
        if (read(fd, payload_buf, sizeof payload_buf) <= 0)
            break;
    }
    close(fd);
}

static int dispatch(int fd)
{
    struct frame f;
    const char *why = NULL;
    if (send_hello(fd) < 0)
        return -1;
    int r = frame_recv(fd, &f, payload_buf, FIRST_FRAME_TIMEOUT_MS, &why);
    if (r == -2)
        return send_error(fd, E_BAD_FRAME, 0, "malformed frame: %s", why), -1;
    if (r <= 0)
        return -1;
    switch (f.type) {
    case T_EXEC:
        return exec_channel(fd, &f);
    case T_COPY_IN:
        return copy_in_channel(fd, &f, payload_buf);
    case T_COPY_OUT:
        return copy_out_channel(fd, &f, payload_buf);
    case T_PING:
    case T_STATS_REQUEST:
    case T_SHUTDOWN:
        return control_channel(fd, &f, payload_buf);
    default:
        return send_error(fd, E_BAD_FRAME, 0,
                          "a channel must start with EXEC, COPY_IN, COPY_OUT, PING, STATS_REQUEST or "
                          "SHUTDOWN, not frame type 0x%02x", f.type), -1;
    }
}

void serve_connection(int fd)
{
    int rc = dispatch(fd);
    close_gracefully(fd);
    _exit(rc == 0 ? 0 : 1);
}

static uint64_t meminfo_kib(const char *key)
{
    FILE *fp = fopen("/proc/meminfo", "re");
    if (!fp)
        return UINT64_MAX;
    char line[256];
    size_t klen = strlen(key);
    uint64_t v = UINT64_MAX;
    while (fgets(line, sizeof line, fp)) {
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            v = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return v;
}

static int send_stats(int fd)
{
    struct sysinfo si;
    struct timespec bt;
    if (sysinfo(&si) < 0)
        return send_error(fd, E_IO, errno, "sysinfo: %s", strerror(errno));
    if (clock_gettime(CLOCK_BOOTTIME, &bt) < 0)
        bt.tv_sec = si.uptime, bt.tv_nsec = 0;
    uint64_t unit = si.mem_unit ? si.mem_unit : 1;
    uint64_t avail = meminfo_kib("MemAvailable");
    avail = avail == UINT64_MAX ? ((uint64_t)si.freeram + si.bufferram) * unit : avail * 1024u;
    struct wb w;
    wb_init(&w);
    wb_u64(&w, (uint64_t)bt.tv_sec * 1000u + (uint64_t)bt.tv_nsec / 1000000u);
    for (int i = 0; i < 3; i++)
        wb_u32(&w, (uint32_t)(((uint64_t)si.loads[i] * 1000u) >> SI_LOAD_SHIFT));
    wb_u64(&w, (uint64_t)si.totalram * unit);
    wb_u64(&w, (uint64_t)si.freeram * unit);
    wb_u64(&w, avail);
    wb_u32(&w, si.procs);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    wb_u32(&w, cpus > 0 ? (uint32_t)cpus : 1u);
    return frame_send_wb(fd, T_STATS, S_NONE, &w);
}

static int shutdown_box(int fd, const struct frame *f)
{
    struct rd r;
    rd_init(&r, f->payload, f->len);
    uint32_t action = rd_u32(&r), grace = rd_u32(&r);
    if (rd_end(&r) < 0)
        return send_error(fd, E_BAD_FRAME, 0, "SHUTDOWN: %s", r.bad), -1;
    if (action == 0)
        action = g_agent.poweroff_cmd;
    if (action != SHUTDOWN_POWEROFF && action != SHUTDOWN_REBOOT)
        return send_error(fd, E_BAD_REQUEST, 0, "SHUTDOWN: unknown action %u (1 power off, 2 reboot)", action), -1;
    if (grace > 600000)
        return send_error(fd, E_BAD_REQUEST, 0, "SHUTDOWN: grace %u ms exceeds 600000 ms", grace), -1;
    logmsg("shutdown requested (%s, grace %u ms)", action == SHUTDOWN_POWEROFF ? "power off" : "reboot", grace);
    if (g_agent.pid1) {
        pid1_terminate_all(grace);
        sync();
        frame_send(fd, T_SHUTDOWN_ACK, S_NONE, NULL, 0);
        pid1_power(action);
    }
    /* Not init: never touch the host's processes or power; sync and stop this agent. */
    sync();
    frame_send(fd, T_SHUTDOWN_ACK, S_NONE, NULL, 0);
    kill(g_agent.main_pid, SIGTERM);
    return 0;
}

int control_channel(int fd, const struct frame *first, uint8_t *buf)
{
    struct frame f = *first;
    for (;;) {
        if (f.stream != S_NONE)
            return send_error(fd, E_BAD_FRAME, 0, "control frames carry stream 0, not %u", f.stream), -1;
        switch (f.type) {
        case T_PING:
            if (f.len > MAX_PING)
                return send_error(fd, E_BAD_FRAME, 0, "PING payload of %u bytes exceeds %u", f.len, MAX_PING), -1;
            if (frame_send(fd, T_PONG, S_NONE, f.payload, f.len) < 0)
                return -1;
            break;
        case T_STATS_REQUEST:
            if (f.len)
                return send_error(fd, E_BAD_FRAME, 0, "STATS_REQUEST carries no payload"), -1;
            if (send_stats(fd) < 0)
                return -1;
            break;
        case T_SHUTDOWN:
            return shutdown_box(fd, &f);
        default:
            return send_error(fd, E_BAD_FRAME, 0, "frame type 0x%02x is not allowed on a control channel", f.type), -1;
        }
        const char *why = NULL;
        int r = frame_recv(fd, &f, buf, -1, &why);
        if (r == -2)
            return send_error(fd, E_BAD_FRAME, 0, "malformed frame: %s", why), -1;
        if (r <= 0)
            return 0;
    }
}
