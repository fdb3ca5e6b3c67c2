/* boxlite-agent: the guest agent. As PID 1 it boots the box (init.c) and serves the host over
 * AF_VSOCK; as a normal process it serves a Unix socket (tests). Every accepted connection is
 * served by its own forked process, so one busy or flooding channel never stalls another. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define VMADDR_CID_ANY 0xffffffffu

/* musl's headers lack <linux/vm_sockets.h>; this is the kernel's struct sockaddr_vm. */
struct sockaddr_vm_compat {
    sa_family_t svm_family;
    unsigned short svm_reserved1;
    unsigned int svm_port;
    unsigned int svm_cid;
    unsigned char svm_flags;
    unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(sa_family_t) - sizeof(unsigned short)
                           - 2 * sizeof(unsigned int) - 1];
};

struct agent g_agent;

static pid_t handlers[MAX_CONNECTIONS];
static int g_sfd = -1;
static int nhandlers;

void logmsg(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dprintf(2, "boxlite-agent[%d]: %s\n", (int)getpid(), buf);
}

void die(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dprintf(2, "boxlite-agent: fatal: %s\n", buf);
    if (g_agent.pid1 && getpid() == 1)
        pid1_power(SHUTDOWN_POWEROFF); /* PID 1 must never exit: the kernel would panic */
    exit(1);
}

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void usage(void)
{
    dprintf(2, "usage: boxlite-agent [--listen unix:PATH|vsock:PORT] [--notify unix:PATH|vsock:CID:PORT]\n"
               "                     [--reboot-on-shutdown]\n"
               "As PID 1 the defaults are --listen vsock:%u; otherwise --listen is required.\n",
            DEFAULT_VSOCK_PORT);
}

/* Parses "unix:PATH" or "vsock:[CID:]PORT" into a socket address. */
static int parse_addr(const char *spec, int want_cid, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (!strncmp(spec, "unix:", 5)) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        size_t n = strlen(spec + 5);
        if (n == 0 || n >= sizeof un->sun_path)
            return -1;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, spec + 5, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return AF_UNIX;
    }
    if (!strncmp(spec, "vsock:", 6)) {
        struct sockaddr_vm_compat *vm = (struct sockaddr_vm_compat *)ss;
        char *end;
        unsigned long cid = VMADDR_CID_ANY, port = strtoul(spec + 6, &end, 10);
        if (want_cid && *end == ':') {
            cid = port;
            port = strtoul(end + 1, &end, 10);
        } else if (want_cid) {
            return -1;
        }
        if (*end || port > 0xffffffffUL || cid > 0xffffffffUL)
            return -1;
        vm->svm_family = AF_VSOCK;
        vm->svm_port = (unsigned)port;
        vm->svm_cid = (unsigned)cid;
        *len = sizeof *vm;
        return AF_VSOCK;
    }
    return -1;
}

static int open_listener(const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int family = parse_addr(spec, 0, &ss, &len);
    if (family < 0)
        die("bad listen address '%s' (want unix:PATH or vsock:PORT)", spec);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket(%s) for '%s': %s", family == AF_VSOCK ? "AF_VSOCK" : "AF_UNIX", spec, strerror(errno));
    if (family == AF_UNIX)
        unlink(((struct sockaddr_un *)&ss)->sun_path);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        die("bind '%s': %s", spec, strerror(errno));
    if (listen(fd, 128) < 0)
        die("listen '%s': %s", spec, strerror(errno));
    return fd;
}

/* Ready signal: connect to the host, send HELLO, close. */
static void notify_ready(const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int family = parse_addr(spec, 1, &ss, &len);
    if (family < 0)
        die("bad notify address '%s' (want unix:PATH or vsock:CID:PORT)", spec);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0 || send_hello(fd) < 0)
        logmsg("ready notification to '%s' failed: %s", spec, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void forget_handler(pid_t pid)
{
    for (int i = 0; i < nhandlers; i++) {
        if (handlers[i] == pid) {
            handlers[i] = handlers[--nhandlers];
            return;
        }
    }
}

static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        forget_handler(pid);
}

static void accept_one(int lfd, const sigset_t *orig)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
            logmsg("accept: %s", strerror(errno));
        return;
    }
    if (nhandlers >= MAX_CONNECTIONS) {
        send_error(fd, E_LIMIT, 0, "the agent serves at most %d connections at once", MAX_CONNECTIONS);
        close(fd);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        send_error(fd, E_INTERNAL, errno, "fork: %s", strerror(errno));
        close(fd);
        return;
    }
    if (pid == 0) {
        close(lfd);
        close(g_sfd);
        sigprocmask(SIG_SETMASK, orig, NULL);
        serve_connection(fd);
    }
    handlers[nhandlers++] = pid;
    close(fd);
}

int main(int argc, char **argv)
{
    const char *listen_spec = NULL, *notify_spec = NULL;
    g_agent.pid1 = getpid() == 1;
    g_agent.poweroff_cmd = SHUTDOWN_POWEROFF;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen_spec = argv[++i];
        } else if (!strcmp(argv[i], "--notify") && i + 1 < argc) {
            notify_spec = argv[++i];
        } else if (!strcmp(argv[i], "--reboot-on-shutdown")) {
            g_agent.poweroff_cmd = SHUTDOWN_REBOOT;
        } else if (!strcmp(argv[i], "--help")) {
            usage();
            return 0;
        } else if (g_agent.pid1) {
            /* The kernel passes unknown command-line words to init; ignore them. */
            continue;
        } else {
            usage();
            return 2;
        }
    }
    static char vsock_default[32];
    if (!listen_spec) {
        if (!g_agent.pid1) {
            usage();
            return 2;
        }
        snprintf(vsock_default, sizeof vsock_default, "vsock:%u", DEFAULT_VSOCK_PORT);
        listen_spec = vsock_default;
    }
    g_agent.main_pid = getpid();
    signal(SIGPIPE, SIG_IGN);
    if (g_agent.pid1)
        pid1_boot();
    else
        prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans of execs come back to us, as to init */

    sigset_t mask, orig;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, &orig);
    int sfd = g_sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        die("signalfd: %s", strerror(errno));

    int lfd = open_listener(listen_spec);
    logmsg("listening on %s (protocol %d.%d)", listen_spec, PROTO_MAJOR, PROTO_MINOR);
    if (notify_spec)
        notify_ready(notify_spec);

    for (;;) {
        struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            int stop = 0;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                    stop = 1;
            }
            reap();
            if (stop && !g_agent.pid1) {
                for (int i = 0; i < nhandlers; i++)
                    kill(handlers[i], SIGTERM);
                logmsg("stopping");
                return 0;
            }
        }
        if (pfd[0].revents & POLLIN)
            accept_one(lfd, &orig);
    }
}
