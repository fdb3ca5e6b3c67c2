/* The exec channel: one command per connection, served by this process's poll loop.
 *
 * Flow control: each output stream may have at most `window` bytes in flight; the agent reads
 * a child's pipe only while that stream has window left and the socket queue has room, so a
 * slow host stops the child (its pipe fills) instead of growing a buffer. Stdin works the same
 * way in reverse: the host may send only what the agent granted, and the agent grants only
 * what the child has consumed, so the socket is always read and SIGNAL/RESIZE never wait. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define OUTQ_CAP (4u * (HDR_LEN + DATA_CHUNK))
#define CTRL_RESERVE 1024u
#define GRANT_BATCH (16u * 1024)
#define QUIET_MS 100u /* after exit, a stream silent this long is ended (a daemon may hold it) */
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

struct exec_req {
    uint32_t flags, timeout_ms;
    uint16_t rows, cols;
    char *user, *cwd;
    char **argv, **envp;
};

struct ostream {
    int fd;
    uint8_t id;
    uint32_t window;
    int done, eof_sent;
    uint64_t last_active;
};

static uint8_t inbuf[HDR_LEN + MAX_PAYLOAD];
static size_t inlen;
static uint8_t outq[OUTQ_CAP];
static size_t outlen;
static uint8_t stdin_buf[INITIAL_WINDOW];
static size_t stdin_start, stdin_end;

static int parse_exec(const struct frame *f, struct exec_req *q, char *err, size_t errlen)
{
    struct rd r;
    rd_init(&r, f->payload, f->len);
    q->flags = rd_u32(&r);
    q->rows = rd_u16(&r);
    q->cols = rd_u16(&r);
    q->timeout_ms = rd_u32(&r);
    q->user = rd_str(&r, MAX_STR, "user name longer than 4096 bytes");
    q->cwd = rd_str(&r, MAX_STR, "working directory longer than 4096 bytes");
    uint32_t argc = rd_u32(&r);
    if (!r.bad && (argc == 0 || argc > MAX_ARGS)) {
        snprintf(err, errlen, "EXEC: argv must have 1 to %u entries, not %u", MAX_ARGS, argc);
        return -1;
    }
    size_t total = 0;
    q->argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!q->argv) {
        snprintf(err, errlen, "EXEC: out of memory");
        return -1;
    }
    for (uint32_t i = 0; !r.bad && i < argc; i++) {
        q->argv[i] = rd_str(&r, MAX_ARGV_ENV_BYTES, "argv entry longer than 256 KiB");
        total += q->argv[i] ? strlen(q->argv[i]) + 1 : 0;
    }
    uint32_t envc = rd_u32(&r);
    if (!r.bad && envc > MAX_ENVS) {
        snprintf(err, errlen, "EXEC: env has %u entries, more than %u", envc, MAX_ENVS);
        return -1;
    }
    q->envp = calloc((size_t)envc + 5, sizeof(char *));
    if (!q->envp) {
        snprintf(err, errlen, "EXEC: out of memory");
        return -1;
    }
    for (uint32_t i = 0; !r.bad && i < envc; i++) {
        q->envp[i] = rd_str(&r, MAX_ARGV_ENV_BYTES, "env entry longer than 256 KiB");
        if (q->envp[i]) {
            char *eq = strchr(q->envp[i], '=');
            if (!eq || eq == q->envp[i]) {
                snprintf(err, errlen, "EXEC: env entry %u is not KEY=VALUE", i);
                return -1;
            }
            total += strlen(q->envp[i]) + 1;
        }
    }
    if (rd_end(&r) < 0) {
        snprintf(err, errlen, "EXEC: %s", r.bad);
        return -1;
    }
    if (total > MAX_ARGV_ENV_BYTES) {
        snprintf(err, errlen, "EXEC: argv and env total %zu bytes, more than %u", total, MAX_ARGV_ENV_BYTES);
        return -1;
    }
    if (!q->argv[0][0]) {
        snprintf(err, errlen, "EXEC: argv[0] is empty");
        return -1;
    }
    if (q->flags & ~EXEC_TTY) {
        snprintf(err, errlen, "EXEC: unknown flags 0x%x", q->flags);
        return -1;
    }
    return 0;
}

static int has_env(char **envp, const char *key)
{
    size_t n = strlen(key);
    for (; *envp; envp++)
        if (!strncmp(*envp, key, n) && (*envp)[n] == '=')
            return 1;
    return 0;
}

static void add_default_env(struct exec_req *q, const struct user_spec *u)
{
    size_t n = 0;
    while (q->envp[n])
        n++;
    if (!has_env(q->envp, "PATH"))
        q->envp[n++] = DEFAULT_PATH;
    if (!has_env(q->envp, "HOME")) {
        char *home = malloc(strlen(u->home) + 6);
        if (home) {
            sprintf(home, "HOME=%s", u->home[0] ? u->home : "/");
            q->envp[n++] = home;
        }
    }
    if ((q->flags & EXEC_TTY) && !has_env(q->envp, "TERM"))
        q->envp[n++] = "TERM=xterm";
    q->envp[n] = NULL;
}

enum stage { STAGE_TTY = 1, STAGE_USER, STAGE_CWD, STAGE_EXEC };
struct child_error { int32_t stage, err; };

/* In the forked child: never returns. Reports a failure through errfd. */
static void child_main(const struct exec_req *q, const struct user_spec *u, int have_user,
                       const char *slave, int fds[3], int errfd)
{
    struct child_error ce = {0, 0};
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < 65; s++)
        signal(s, SIG_DFL); /* ignored dispositions would survive execve */
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    if (slave) {
        int sfd = open(slave, O_RDWR);
        if (sfd < 0 || ioctl(sfd, TIOCSCTTY, 0) < 0) {
            ce = (struct child_error){STAGE_TTY, errno};
            goto fail;
        }
        fds[0] = fds[1] = fds[2] = sfd;
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(fds[i], i) < 0) {
            ce = (struct child_error){STAGE_TTY, errno};
            goto fail;
        }
    }
    if (have_user) {
        if (setgroups((size_t)u->ngroups, u->groups) < 0 || setgid(u->gid) < 0 || setuid(u->uid) < 0) {
            ce = (struct child_error){STAGE_USER, errno};
            goto fail;
        }
    }
    if (chdir(q->cwd[0] ? q->cwd : "/") < 0) {
        ce = (struct child_error){STAGE_CWD, errno};
        goto fail;
    }
    environ = q->envp; /* execvp searches the command's PATH, not the agent's */
    execvp(q->argv[0], q->argv);
    ce = (struct child_error){STAGE_EXEC, errno};
fail:
    if (write(errfd, &ce, sizeof ce) < 0)
        _exit(126);
    _exit(127);
}

/* Queues a frame on the socket; the caller has checked room. */
static void q_frame(uint8_t type, uint8_t stream, const void *p, uint32_t len)
{
    put_header(outq + outlen, type, stream, len);
    if (len)
        memcpy(outq + outlen + HDR_LEN, p, len);
    outlen += HDR_LEN + len;
}

static size_t q_room(void) { return OUTQ_CAP - outlen; }

static int flush_out(int fd)
{
    while (outlen) {
        ssize_t n = send(fd, outq, outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        memmove(outq, outq + n, outlen - (size_t)n);
        outlen -= (size_t)n;
    }
    return 0;
}

struct exec_state {
    int sock, sigfd, tty, stdin_fd, stdin_closed, stdin_eof;
    pid_t pid;
    struct ostream out[2];
    uint32_t stdin_window;  /* what the host may still send */
    uint32_t stdin_grant;   /* consumed but not yet granted back */
    int exited, exit_queued, timed_out;
    int status;
    uint64_t start, exit_at, deadline;
};

static void kill_group(struct exec_state *s, int sig)
{
    if (kill(-s->pid, sig) < 0 && !s->exited)
        kill(s->pid, sig);
}

static int fail_channel(struct exec_state *s, uint32_t code, const char *fmt, const char *detail)
{
    char msg[300];
    snprintf(msg, sizeof msg, fmt, detail);
    logmsg("exec %d: %s; closing its channel", (int)s->pid, msg);
    kill_group(s, SIGKILL);
    set_nonblock(s->sock); /* best effort: the queue, then the error */
    flush_out(s->sock);
    int fl = fcntl(s->sock, F_GETFL);
    fcntl(s->sock, F_SETFL, fl & ~O_NONBLOCK);
    write_full(s->sock, outq, outlen);
    send_error(s->sock, code, 0, "%s", msg);
    return -1;
}

static void stdin_close(struct exec_state *s)
{
    s->stdin_closed = 1;
    s->stdin_grant += (uint32_t)(stdin_end - stdin_start);
    stdin_start = stdin_end = 0;
    if (!s->tty && s->stdin_fd >= 0) {
        close(s->stdin_fd);
        s->stdin_fd = -1;
    }
}

static int handle_frame(struct exec_state *s, const struct frame *f)
{
    char why[120];
    struct rd r;
    rd_init(&r, f->payload, f->len);
    switch (f->type) {
    case T_DATA:
        if (f->stream != S_STDIN || s->stdin_eof)
            return fail_channel(s, E_BAD_FRAME, "%s", "DATA from the host must be stdin, before its EOF");
        if (f->len > s->stdin_window) {
            snprintf(why, sizeof why, "%u bytes exceed the window of %u", f->len, s->stdin_window);
            return fail_channel(s, E_BAD_FRAME, "stdin DATA: %s", why);
        }
        s->stdin_window -= f->len;
        if (s->stdin_closed || s->exited) {
            s->stdin_grant += f->len; /* nobody reads: discard, but keep the host unblocked */
            return 0;
        }
        if (f->len > sizeof stdin_buf - stdin_end) {
            memmove(stdin_buf, stdin_buf + stdin_start, stdin_end - stdin_start);
            stdin_end -= stdin_start;
            stdin_start = 0;
        }
        memcpy(stdin_buf + stdin_end, f->payload, f->len);
        stdin_end += f->len;
        return 0;
    case T_EOF:
        if (f->stream != S_STDIN || f->len || s->stdin_eof)
            return fail_channel(s, E_BAD_FRAME, "%s", "EOF from the host must be stdin's, once, empty");
        s->stdin_eof = 1;
        return 0;
    case T_WINDOW: {
        uint32_t inc = rd_u32(&r);
        if (rd_end(&r) < 0 || (f->stream != S_STDOUT && f->stream != S_STDERR) || inc == 0)
            return fail_channel(s, E_BAD_FRAME, "%s", "WINDOW must carry a non-zero u32 for stdout or stderr");
        struct ostream *o = &s->out[f->stream - S_STDOUT];
        if (inc > MAX_WINDOW - o->window)
            return fail_channel(s, E_BAD_FRAME, "%s", "WINDOW grows a stream's window past 1 GiB");
        o->window += inc;
        return 0;
    }
    case T_SIGNAL: {
        uint32_t sig = rd_u32(&r), flags = rd_u32(&r);
        if (rd_end(&r) < 0 || f->stream || sig == 0 || sig > 64 || (flags & ~SIGNAL_GROUP))
            return fail_channel(s, E_BAD_FRAME, "%s", "SIGNAL must carry a signal 1..64 and known flags");
        if (flags & SIGNAL_GROUP)
            kill_group(s, (int)sig);
        else if (!s->exited)
            kill(s->pid, (int)sig);
        return 0;
    }
    case T_RESIZE: {
        struct winsize ws = {0};
        ws.ws_row = rd_u16(&r);
        ws.ws_col = rd_u16(&r);
        ws.ws_xpixel = rd_u16(&r);
        ws.ws_ypixel = rd_u16(&r);
        if (rd_end(&r) < 0 || f->stream)
            return fail_channel(s, E_BAD_FRAME, "RESIZE: %s", r.bad ? r.bad : "stream must be 0");
        if (s->tty)
            ioctl(s->stdin_fd, TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH */
        return 0;
    }
    default:
        snprintf(why, sizeof why, "frame type 0x%02x is not allowed on an exec channel", f->type);
        return fail_channel(s, E_BAD_FRAME, "%s", why);
    }
}

/* Reads what the socket has and handles every complete frame. 1 = host closed. */
static int read_socket(struct exec_state *s)
{
    ssize_t n = read(s->sock, inbuf + inlen, sizeof inbuf - inlen);
    if (n == 0)
        return 1;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : 1;
    inlen += (size_t)n;
    size_t off = 0;
    while (inlen - off >= HDR_LEN) {
        struct frame f;
        const char *why = parse_header(inbuf + off, &f);
        if (why)
            return fail_channel(s, E_BAD_FRAME, "malformed frame: %s", why);
        if (inlen - off - HDR_LEN < f.len)
            break;
        f.payload = inbuf + off + HDR_LEN;
        if (handle_frame(s, &f) < 0)
            return -1;
        off += HDR_LEN + f.len;
    }
    memmove(inbuf, inbuf + off, inlen - off);
    inlen -= off;
    return 0;
}

static int stream_eligible(const struct exec_state *s, const struct ostream *o)
{
    (void)s;
    return !o->done && o->window > 0 && q_room() >= HDR_LEN + DATA_CHUNK + CTRL_RESERVE;
}

/* `now` is the loop's clock reading after poll: every time this iteration compares is on it. */
static void read_stream(struct ostream *o, uint64_t now)
{
    uint32_t want = o->window < DATA_CHUNK ? o->window : DATA_CHUNK;
    ssize_t n = read(o->fd, outq + outlen + HDR_LEN, want);
    if (n > 0) {
        put_header(outq + outlen, T_DATA, o->id, (uint32_t)n);
        outlen += HDR_LEN + (size_t)n;
        o->window -= (uint32_t)n;
        o->last_active = now;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        o->done = 1; /* EOF, or EIO from a PTY master whose slave side is all closed */
    }
}

static void write_stdin(struct exec_state *s)
{
    ssize_t n = write(s->stdin_fd, stdin_buf + stdin_start, stdin_end - stdin_start);
    if (n > 0) {
        stdin_start += (size_t)n;
        s->stdin_grant += (uint32_t)n;
        if (stdin_start == stdin_end)
            stdin_start = stdin_end = 0;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        stdin_close(s); /* EPIPE: the command closed its stdin */
    }
}

/* Queues grants, EOFs and the exit once their time has come and there is room. */
static void queue_control(struct exec_state *s)
{
    uint8_t p[16];
    if (s->stdin_grant && q_room() >= HDR_LEN + 4 &&
        (s->stdin_grant >= GRANT_BATCH || stdin_start == stdin_end)) {
        p[0] = (uint8_t)(s->stdin_grant >> 24);
        p[1] = (uint8_t)(s->stdin_grant >> 16);
        p[2] = (uint8_t)(s->stdin_grant >> 8);
        p[3] = (uint8_t)s->stdin_grant;
        q_frame(T_WINDOW, S_STDIN, p, 4);
        s->stdin_window += s->stdin_grant;
        s->stdin_grant = 0;
    }
    if (s->stdin_eof && !s->stdin_closed && stdin_start == stdin_end) {
        if (s->tty) {
            /* A terminal has no half-close: send its EOF character, as a keyboard would. */
            struct termios t;
            char veof = tcgetattr(s->stdin_fd, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
            if (write(s->stdin_fd, &veof, 1) < 0) { /* nothing more to do */ }
            s->stdin_closed = 1;
        } else {
            stdin_close(s);
        }
    }
    for (int i = 0; i < 2; i++) {
        struct ostream *o = &s->out[i];
        if (o->done && !o->eof_sent && q_room() >= HDR_LEN) {
            q_frame(T_EOF, o->id, NULL, 0);
            o->eof_sent = 1;
        }
    }
    if (s->exited && !s->exit_queued && s->out[0].eof_sent && s->out[1].eof_sent && q_room() >= HDR_LEN + 16) {
        int st = s->status;
        uint64_t us = (s->exit_at - s->start) * 1000u;
        p[0] = WIFSIGNALED(st) ? EXIT_SIGNALED : EXIT_EXITED;
        p[1] = (uint8_t)((s->timed_out ? EXIT_TIMED_OUT : 0) | (WIFSIGNALED(st) && WCOREDUMP(st) ? EXIT_CORE : 0));
        p[2] = p[3] = 0;
        uint32_t v = WIFSIGNALED(st) ? (uint32_t)WTERMSIG(st) : (uint32_t)WEXITSTATUS(st);
        for (int i = 0; i < 4; i++)
            p[4 + i] = (uint8_t)(v >> (24 - 8 * i));
        for (int i = 0; i < 8; i++)
            p[8 + i] = (uint8_t)(us >> (56 - 8 * i));
        q_frame(T_EXIT, S_NONE, p, 16);
        s->exit_queued = 1;
    }
}

static int start_child(int sock, struct exec_req *q, struct exec_state *s)
{
    char err[300];
    struct user_spec u;
    int have_user = q->user[0] != 0;
    if (have_user) {
        int code = resolve_user(q->user, &u, err, sizeof err);
        if (code)
            return send_error(sock, (uint32_t)code, 0, "%s", err), -1;
    } else {
        memset(&u, 0, sizeof u);
        const char *home = getenv("HOME");
        snprintf(u.home, sizeof u.home, "%s", g_agent.pid1 || !home ? "/root" : home);
    }
    add_default_env(q, &u);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, ep[2];
    int master = -1;
    char slave[64] = {0};
    if (q->flags & EXEC_TTY) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, slave, sizeof slave)) {
            return send_error(sock, E_IO, errno, "cannot open a pseudo-terminal: %s (is devpts mounted on /dev/pts?)",
                              strerror(errno)), -1;
        }
        struct winsize ws = {.ws_row = q->rows ? q->rows : 24, .ws_col = q->cols ? q->cols : 80};
        ioctl(master, TIOCSWINSZ, &ws);
    } else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        return send_error(sock, E_IO, errno, "pipe: %s", strerror(errno)), -1;
    }
    if (pipe2(ep, O_CLOEXEC) < 0)
        return send_error(sock, E_IO, errno, "pipe: %s", strerror(errno)), -1;

    s->start = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return send_error(sock, E_INTERNAL, errno, "fork: %s", strerror(errno)), -1;
    if (pid == 0) {
        int fds[3] = {in[0], out[1], errp[1]};
        close(ep[0]);
        child_main(q, &u, have_user, master >= 0 ? slave : NULL, fds, ep[1]);
    }
    s->pid = pid;
    close(ep[1]);
    struct child_error ce;
    ssize_t n;
    while ((n = read(ep[0], &ce, sizeof ce)) < 0 && errno == EINTR) {
    }
    close(ep[0]);
    if (n == (ssize_t)sizeof ce) {
        waitpid(pid, NULL, 0);
        const char *e = strerror(ce.err);
        switch (ce.stage) {
        case STAGE_CWD:
            return send_error(sock, ce.err == ENOENT || ce.err == ENOTDIR ? E_NOT_FOUND : E_PERMISSION,
                              ce.err, "working directory '%s': %s", q->cwd, e), -1;
        case STAGE_USER:
            return send_error(sock, E_PERMISSION, ce.err, "cannot switch to user '%s': %s", q->user, e), -1;
        case STAGE_TTY:
            return send_error(sock, E_IO, ce.err, "cannot attach the terminal: %s", e), -1;
        default:
            return send_error(sock, ce.err == ENOENT ? E_NOT_FOUND : E_PERMISSION, ce.err,
                              "cannot run '%s': %s", q->argv[0], e), -1;
        }
    }
    s->tty = master >= 0;
    if (s->tty) {
        s->stdin_fd = master;
        s->out[0].fd = master;
        s->out[1].fd = -1;
        s->out[1].done = 1; /* a terminal merges stderr into stdout */
    } else {
        close(in[0]);
        close(out[1]);
        close(errp[1]);
        s->stdin_fd = in[1];
        s->out[0].fd = out[0];
        s->out[1].fd = errp[0];
        set_nonblock(out[0]);
        set_nonblock(errp[0]);
    }
    set_nonblock(s->stdin_fd);
    return 0;
}

int exec_channel(int sock, const struct frame *first)
{
    char err[300];
    struct exec_req q;
    memset(&q, 0, sizeof q);
    if (first->stream != S_NONE)
        return send_error(sock, E_BAD_FRAME, 0, "EXEC carries stream 0"), -1;
    if (parse_exec(first, &q, err, sizeof err) < 0)
        return send_error(sock, E_BAD_FRAME, 0, "%s", err), -1;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    struct exec_state s;
    memset(&s, 0, sizeof s);
    s.sock = sock;
    s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s.sigfd < 0)
        return send_error(sock, E_INTERNAL, errno, "signalfd: %s", strerror(errno)), -1;
    s.stdin_window = INITIAL_WINDOW;
    s.out[0] = (struct ostream){.id = S_STDOUT, .window = INITIAL_WINDOW};
    s.out[1] = (struct ostream){.id = S_STDERR, .window = INITIAL_WINDOW};
    if (start_child(sock, &q, &s) < 0)
        return -1;
    s.deadline = q.timeout_ms ? s.start + q.timeout_ms : 0;
    uint8_t p[4] = {(uint8_t)(s.pid >> 24), (uint8_t)(s.pid >> 16), (uint8_t)(s.pid >> 8), (uint8_t)s.pid};
    q_frame(T_STARTED, S_NONE, p, 4);
    set_nonblock(sock);

    for (;;) {
        queue_control(&s);
        if (flush_out(sock) < 0) {
            kill_group(&s, SIGKILL); /* the host is gone */
            return -1;
        }
        if (s.exit_queued && outlen == 0)
            break;
        uint64_t now = now_ms();
        struct pollfd pfd[5];
        int n = 0, ix_out[2] = {-1, -1}, ix_in = -1;
        pfd[n++] = (struct pollfd){.fd = sock, .events = (short)(POLLIN | (outlen ? POLLOUT : 0))};
        pfd[n++] = (struct pollfd){.fd = s.sigfd, .events = POLLIN};
        int want_in = !s.stdin_closed && stdin_end > stdin_start;
        for (int i = 0; i < 2; i++) {
            struct ostream *o = &s.out[i];
            if (stream_eligible(&s, o)) {
                ix_out[i] = n;
                pfd[n++] = (struct pollfd){.fd = o->fd, .events = POLLIN};
            } else {
                o->last_active = now; /* blocked by the host: not silence */
            }
        }
        if (want_in) {
            if (s.tty && ix_out[0] >= 0) {
                pfd[ix_out[0]].events |= POLLOUT;
                ix_in = ix_out[0];
            } else {
                ix_in = n;
                pfd[n++] = (struct pollfd){.fd = s.stdin_fd, .events = POLLOUT};
            }
        }
        int timeout = -1;
        if (s.deadline && !s.timed_out)
            timeout = s.deadline > now ? (int)(s.deadline - now) : 0;
        if (s.exited)
            timeout = timeout < 0 || timeout > (int)QUIET_MS ? (int)QUIET_MS : timeout;
        if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
            return fail_channel(&s, E_INTERNAL, "poll: %s", strerror(errno));
        now = now_ms();

        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            int r = read_socket(&s);
            if (r < 0)
                return -1;
            if (r == 1) {
                logmsg("exec %d: the host closed the channel; killing the command", (int)s.pid);
                kill_group(&s, SIGKILL);
                return 0;
            }
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(s.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGTERM) {
                    kill_group(&s, SIGKILL);
                    return -1;
                }
            }
            if (!s.exited && waitpid(s.pid, &s.status, WNOHANG) == s.pid) {
                s.exited = 1;
                s.exit_at = now;
            }
        }
        for (int i = 0; i < 2; i++) {
            struct ostream *o = &s.out[i];
            if (ix_out[i] < 0 || !(pfd[ix_out[i]].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            /* Both streams were eligible before poll, but reading the first may have taken the
             * queue's room: reading the second then would run past the end of outq. */
            if (stream_eligible(&s, o))
                read_stream(o, now);
            else
                o->last_active = now; /* held back by the queue: not silence */
        }
        if (ix_in >= 0 && (pfd[ix_in].revents & (POLLOUT | POLLERR | POLLHUP)) && !s.stdin_closed)
            write_stdin(&s);
        if (s.deadline && !s.timed_out && now >= s.deadline && !s.exited) {
            s.timed_out = 1;
            kill_group(&s, SIGKILL);
        }
        if (s.exited) {
            for (int i = 0; i < 2; i++) {
                struct ostream *o = &s.out[i];
                /* One clock reading per iteration: a later reading stored in last_active made
                 * now - since wrap around, ending a stream just read with data still in its pipe. */
                uint64_t since = o->last_active > s.exit_at ? o->last_active : s.exit_at;
                if (!o->done && ix_out[i] >= 0 && now >= since && now - since >= QUIET_MS)
                    o->done = 1;
            }
        }
    }
    return 0;
}
