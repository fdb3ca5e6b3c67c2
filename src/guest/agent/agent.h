/* boxlite-agent: shared declarations. */
#ifndef BOXLITE_AGENT_H
#define BOXLITE_AGENT_H

#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define DEFAULT_VSOCK_PORT 1024u
#define MAX_CONNECTIONS 1024
#define FIRST_FRAME_TIMEOUT_MS 30000

/* Process-wide settings; set once in main before any connection is served. */
struct agent {
    int pid1;              /* running as the VM's init */
    pid_t main_pid;        /* the listener process */
    unsigned poweroff_cmd; /* SHUTDOWN_POWEROFF or SHUTDOWN_REBOOT default */
};
extern struct agent g_agent;

void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* One accepted connection, in its own process; never returns. */
void serve_connection(int fd) __attribute__((noreturn));

/* Channel handlers: each gets the first frame and owns fd until the process exits. */
int exec_channel(int fd, const struct frame *first);
int copy_in_channel(int fd, const struct frame *first, uint8_t *buf);
int copy_out_channel(int fd, const struct frame *first, uint8_t *buf);
int control_channel(int fd, const struct frame *first, uint8_t *buf);

/* PID 1 boot: mounts, modules, switch root, hostname (init.c). */
void pid1_boot(void);
/* Stops every other process, syncs and powers off or reboots; only as PID 1's helper. */
void pid1_power(unsigned cmd) __attribute__((noreturn));
/* Terminates all processes but PID 1 and the caller, waiting up to grace_ms. */
void pid1_terminate_all(uint32_t grace_ms);

/* User resolution against the (guest's) /etc/passwd and /etc/group. */
struct user_spec {
    uid_t uid;
    gid_t gid;
    gid_t groups[64];
    int ngroups;
    char home[256];
    char name[64];
    int found;
};
/* Resolves "name", "uid", "name:group" or "uid:gid". Returns 0 or an error code, with a
 * message in err. */
int resolve_user(const char *spec, struct user_spec *out, char *err, size_t errlen);

uint64_t now_ms(void);
int set_nonblock(int fd);

#endif
