/* The copy channels: trees in and out as tar streams (ustar + pax; GNU long names read).
 *
 * Extraction is confined to the destination directory: absolute names are made relative, a
 * ".." component fails the copy, every parent directory is opened with O_NOFOLLOW one component
 * at a time (so an entry can never be written through a symlink, including one the same archive
 * created), and an existing file is unlinked before it is replaced (never written through). */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define BLOCK 512u
#define PATH_MAX_TAR 4096u
#define MAX_PAX (1u << 20)
#define GRANT_AT (64u * 1024)

/* ---- the host's byte stream (DATA/EOF on stdin) for copy-in ---------------------------- */

struct in_stream {
    int fd;
    uint8_t *buf;
    const uint8_t *p;
    uint32_t avail;
    uint32_t window;   /* what the host may still send */
    uint32_t ungranted;
    int eof;
    char err[300];
};

static int in_fill(struct in_stream *s)
{
    struct frame f;
    const char *why = NULL;
    if (s->ungranted) {
        uint8_t g[4] = {(uint8_t)(s->ungranted >> 24), (uint8_t)(s->ungranted >> 16),
                        (uint8_t)(s->ungranted >> 8), (uint8_t)s->ungranted};
        if (frame_send(s->fd, T_WINDOW, S_STDIN, g, 4) < 0)
            return -1;
        s->window += s->ungranted;
        s->ungranted = 0;
    }
    int r = frame_recv(s->fd, &f, s->buf, -1, &why);
    if (r == -2) {
        snprintf(s->err, sizeof s->err, "malformed frame: %s", why);
        return -1;
    }
    if (r <= 0) {
        snprintf(s->err, sizeof s->err, "the host closed the channel before the end of the archive");
        return -1;
    }
    if (f.type == T_EOF && f.stream == S_STDIN && f.len == 0) {
        s->eof = 1;
        return 0;
    }
    if (f.type != T_DATA || f.stream != S_STDIN) {
        snprintf(s->err, sizeof s->err, "frame type 0x%02x/stream %u is not allowed while copying in", f.type, f.stream);
        return -1;
    }
    if (f.len > s->window) {
        snprintf(s->err, sizeof s->err, "DATA of %u bytes exceeds the window of %u", f.len, s->window);
        return -1;
    }
    s->window -= f.len;
    s->p = f.payload;
    s->avail = f.len;
    return 0;
}

/* Reads exactly n bytes; 0 if the stream ended first (count in *got), -1 on error. */
static int in_read(struct in_stream *s, void *dst, size_t n, size_t *got)
{
    uint8_t *d = dst;
    *got = 0;
    while (*got < n) {
        if (s->avail == 0) {
            if (s->eof)
                return 0;
            /* Grant back what was consumed before blocking for more. */
            if (in_fill(s) < 0)
                return -1;
            continue;
        }
        size_t k = n - *got < s->avail ? n - *got : s->avail;
        memcpy(d + *got, s->p, k);
        s->p += k;
        s->avail -= (uint32_t)k;
        s->ungranted += (uint32_t)k;
        *got += k;
        if (s->ungranted >= GRANT_AT && s->avail == 0 && !s->eof) {
            if (in_fill(s) < 0)
                return -1;
        }
    }
    return 1;
}

static int in_exact(struct in_stream *s, void *dst, size_t n)
{
    size_t got;
    int r = in_read(s, dst, n, &got);
    if (r == 0)
        snprintf(s->err, sizeof s->err, "the archive ends in the middle of an entry");
    return r == 1 ? 0 : -1;
}

/* ---- tar header fields --------------------------------------------------------------- */

static int parse_num(const uint8_t *f, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (f[0] & 0x80) { /* GNU base-256 */
        if (f[0] != 0x80)
            return -1; /* negative or huge */
        for (size_t i = 1; i < len; i++) {
            if (v >> 56)
                return -1;
            v = (v << 8) | f[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return -1;
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    if (i < len && f[i] != 0 && f[i] != ' ')
        return -1;
    *out = v;
    return 0;
}

static int checksum_ok(const uint8_t *h)
{
    uint64_t want;
    if (parse_num(h + 148, 8, &want))
        return 0;
    uint64_t u = 0;
    int64_t sgn = 0;
    for (size_t i = 0; i < BLOCK; i++) {
        uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];
        u += c;
        sgn += (int8_t)c;
    }
    return u == want || (uint64_t)sgn == want;
}

static void field_str(char *dst, const uint8_t *f, size_t len)
{
    size_t n = strnlen((const char *)f, len);
    memcpy(dst, f, n);
    dst[n] = 0;
}

/* ---- copy-in ------------------------------------------------------------------------- */

struct entry {
    char path[PATH_MAX_TAR + 1];
    char link[PATH_MAX_TAR + 1];
    char type;
    uint64_t size, mode, uid, gid, mtime, devmajor, devminor;
};

struct pending { /* overrides from a pax 'x' or GNU 'L'/'K' header for the next entry */
    char path[PATH_MAX_TAR + 1];
    char link[PATH_MAX_TAR + 1];
    int has_path, has_link, has_size, has_uid, has_gid, has_mtime;
    uint64_t size, uid, gid, mtime;
};

static int pax_number(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || (*end && *end != '.'))
        return -1;
    *out = n;
    return 0;
}

static int parse_pax(char *data, size_t len, struct pending *pd, char *err, size_t errlen)
{
    size_t off = 0;
    while (off < len) {
        char *rec = data + off;
        char *end;
        unsigned long rlen = strtoul(rec, &end, 10);
        if (end == rec || *end != ' ' || rlen < 5 || rlen > len - off || rec[rlen - 1] != '\n') {
            snprintf(err, errlen, "malformed pax record");
            return -1;
        }
        rec[rlen - 1] = 0;
        char *key = end + 1, *eq = strchr(key, '=');
        if (!eq) {
            snprintf(err, errlen, "malformed pax record");
            return -1;
        }
        *eq = 0;
        char *val = eq + 1;
        int bad = 0;
        if (!strcmp(key, "path")) {
            bad = strlen(val) > PATH_MAX_TAR;
            if (!bad) {
                strcpy(pd->path, val);
                pd->has_path = 1;
            }
        } else if (!strcmp(key, "linkpath")) {
            bad = strlen(val) > PATH_MAX_TAR;
            if (!bad) {
                strcpy(pd->link, val);
                pd->has_link = 1;
            }
        } else if (!strcmp(key, "size")) {
            bad = pax_number(val, &pd->size);
            pd->has_size = !bad;
        } else if (!strcmp(key, "uid")) {
            bad = pax_number(val, &pd->uid);
            pd->has_uid = !bad;
        } else if (!strcmp(key, "gid")) {
            bad = pax_number(val, &pd->gid);
            pd->has_gid = !bad;
        } else if (!strcmp(key, "mtime")) {
            bad = pax_number(val, &pd->mtime);
            pd->has_mtime = !bad;
        }
        if (bad) {
            snprintf(err, errlen, "bad pax value for '%s'", key);
            return -1;
        }
        off += rlen;
    }
    return 0;
}

/* Splits a member name into safe components; fails on "..". Returns the count. */
static int split_path(char *path, char **comp, int max)
{
    int n = 0;
    for (char *tok = strtok(path, "/"); tok; tok = strtok(NULL, "/")) {
        if (!strcmp(tok, "."))
            continue;
        if (!strcmp(tok, "..") || n == max)
            return -1;
        comp[n++] = tok;
    }
    return n;
}

/* Opens the parent directory of a member below root, creating missing directories; never
 * follows a symlink. On success *leaf is the last component. */
static int open_parent(int root, const char *name, char *scratch, const char **leaf, char *err, size_t errlen)
{
    char *comp[PATH_MAX_TAR / 2];
    strcpy(scratch, name);
    int n = split_path(scratch, comp, (int)(sizeof comp / sizeof comp[0]));
    if (n < 0) {
        snprintf(err, errlen, "entry '%s' has a '..' component: refusing to write outside the destination", name);
        return -1;
    }
    if (n == 0) {
        *leaf = NULL;
        return dup(root);
    }
    int cur = dup(root);
    for (int i = 0; i < n - 1 && cur >= 0; i++) {
        int next = openat(cur, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && mkdirat(cur, comp[i], 0755) == 0)
            next = openat(cur, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            snprintf(err, errlen, "entry '%s': parent '%s' is %s", name, comp[i],
                     errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory" : strerror(errno));
        close(cur);
        cur = next;
    }
    *leaf = comp[n - 1];
    return cur;
}

/* Removes what stands at leaf unless it is a directory we may keep. 0 = free (or kept dir). */
static int clear_leaf(int pfd, const char *leaf, int keep_dir, uint32_t flags, const char *name, char *err, size_t errlen)
{
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    if (keep_dir && S_ISDIR(st.st_mode))
        return 0;
    if (flags & COPY_IN_NO_OVERWRITE) {
        snprintf(err, errlen, "entry '%s' already exists (overwriting is off)", name);
        return -1;
    }
    if (unlinkat(pfd, leaf, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
        snprintf(err, errlen, "entry '%s': cannot replace the existing %s: %s", name,
                 S_ISDIR(st.st_mode) ? "directory" : "file", strerror(errno));
        return -1;
    }
    return 0;
}

static void set_owner_mode_time(int pfd, const char *leaf, int fd, const struct entry *e, int is_link)
{
    if (geteuid() == 0) {
        if (fd >= 0 ? fchown(fd, (uid_t)e->uid, (gid_t)e->gid) : fchownat(pfd, leaf, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW)) {
            /* ownership is best effort (e.g. an id the filesystem rejects) */
        }
    }
    if (!is_link && (fd >= 0 ? fchmod(fd, (mode_t)(e->mode & 07777)) : fchmodat(pfd, leaf, (mode_t)(e->mode & 07777), 0))) {
        /* reported by the final listing, not fatal */
    }
    struct timespec ts[2] = {{(time_t)e->mtime, 0}, {(time_t)e->mtime, 0}};
    if (fd >= 0)
        futimens(fd, ts);
    else
        utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
}

static int copy_body(struct in_stream *s, int fd, uint64_t size, const char *name, char *err, size_t errlen)
{
    static uint8_t buf[64 * 1024];
    uint64_t left = size;
    while (left) {
        size_t k = left < sizeof buf ? (size_t)left : sizeof buf;
        if (in_exact(s, buf, k) < 0)
            return -1;
        if (fd >= 0 && write_full(fd, buf, k) < 0) {
            snprintf(err, errlen, "entry '%s': write: %s", name, strerror(errno));
            return -1;
        }
        left -= k;
    }
    size_t pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);
    return pad ? in_exact(s, buf, pad) : 0;
}

static int extract(struct in_stream *s, int root, struct entry *e, uint32_t flags, char *err, size_t errlen)
{
    static char scratch[PATH_MAX_TAR + 1], lscratch[PATH_MAX_TAR + 1];
    const char *leaf;
    int pfd = open_parent(root, e->path, scratch, &leaf, err, errlen);
    if (pfd < 0)
        return -1;
    int rc = -1, fd = -1;
    if (!leaf) { /* "." or "/": the destination itself */
        rc = e->type == '5' ? 0 : -1;
        if (rc)
            snprintf(err, errlen, "entry '%s' names the destination itself", e->path);
        goto out;
    }
    switch (e->type) {
    case '5':
        if (clear_leaf(pfd, leaf, 1, flags & ~COPY_IN_NO_OVERWRITE, e->path, err, errlen) < 0)
            goto out;
        if (mkdirat(pfd, leaf, 0700) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "entry '%s': mkdir: %s", e->path, strerror(errno));
            goto out;
        }
        fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
            set_owner_mode_time(pfd, leaf, fd, e, 0);
        rc = 0;
        break;
    case '0': case '\0': case '7':
        if (clear_leaf(pfd, leaf, 0, flags, e->path, err, errlen) < 0)
            goto out;
        fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "entry '%s': create: %s", e->path, strerror(errno));
            goto out;
        }
        if (copy_body(s, fd, e->size, e->path, err, errlen) < 0)
            goto out;
        set_owner_mode_time(pfd, leaf, fd, e, 0);
        e->size = 0; /* consumed */
        rc = 0;
        break;
    case '2':
        if (clear_leaf(pfd, leaf, 0, flags, e->path, err, errlen) < 0)
            goto out;
        if (symlinkat(e->link, pfd, leaf) < 0) {
            snprintf(err, errlen, "entry '%s': symlink: %s", e->path, strerror(errno));
            goto out;
        }
        set_owner_mode_time(pfd, leaf, -1, e, 1);
        rc = 0;
        break;
    case '1': {
        const char *tleaf;
        int tfd = open_parent(root, e->link, lscratch, &tleaf, err, errlen);
        if (tfd < 0)
            goto out;
        if (!tleaf || clear_leaf(pfd, leaf, 0, flags, e->path, err, errlen) < 0 || linkat(tfd, tleaf, pfd, leaf, 0) < 0) {
            if (!err[0])
                snprintf(err, errlen, "entry '%s': hard link to '%s': %s", e->path, e->link, strerror(errno));
            close(tfd);
            goto out;
        }
        close(tfd);
        rc = 0;
        break;
    }
    case '3': case '4': case '6': {
        mode_t kind = e->type == '3' ? S_IFCHR : e->type == '4' ? S_IFBLK : S_IFIFO;
        if (clear_leaf(pfd, leaf, 0, flags, e->path, err, errlen) < 0)
            goto out;
        if (mknodat(pfd, leaf, kind | (mode_t)(e->mode & 07777),
                    makedev((unsigned)e->devmajor, (unsigned)e->devminor)) < 0) {
            snprintf(err, errlen, "entry '%s': mknod: %s", e->path, strerror(errno));
            goto out;
        }
        set_owner_mode_time(pfd, leaf, -1, e, 0);
        rc = 0;
        break;
    }
    default:
        logmsg("copy-in: skipping entry '%s' of unsupported type '%c'", e->path, e->type);
        rc = 0;
    }
out:
    if (fd >= 0)
        close(fd);
    close(pfd);
    return rc;
}

static int read_archive(struct in_stream *s, int root, uint32_t flags, uint64_t *entries, uint64_t *bytes,
                        char *err, size_t errlen)
{
    static uint8_t h[BLOCK];
    static struct pending pd;
    static struct entry e;
    static char pax[MAX_PAX + 1];
    memset(&pd, 0, sizeof pd);
    for (;;) {
        size_t got;
        int r = in_read(s, h, BLOCK, &got);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (got == 0)
                return 0; /* no end-of-archive blocks: accept, as GNU tar does */
            snprintf(err, errlen, "the archive ends inside a header");
            return -1;
        }
        int zero = 1;
        for (size_t i = 0; i < BLOCK && zero; i++)
            zero = h[i] == 0;
        if (zero)
            return 0;
        if (!checksum_ok(h)) {
            snprintf(err, errlen, "bad tar header checksum after %llu entries", (unsigned long long)*entries);
            return -1;
        }
        memset(&e, 0, sizeof e);
        e.type = (char)h[156];
        if (parse_num(h + 100, 8, &e.mode) || parse_num(h + 108, 8, &e.uid) || parse_num(h + 116, 8, &e.gid) ||
            parse_num(h + 124, 12, &e.size) || parse_num(h + 136, 12, &e.mtime) ||
            parse_num(h + 329, 8, &e.devmajor) || parse_num(h + 337, 8, &e.devminor)) {
            snprintf(err, errlen, "bad numeric field in a tar header after %llu entries", (unsigned long long)*entries);
            return -1;
        }
        char name[101], prefix[156];
        field_str(name, h, 100);
        field_str(e.link, h + 157, 100);
        if (!memcmp(h + 257, "ustar\0", 6)) {
            field_str(prefix, h + 345, 155);
            snprintf(e.path, sizeof e.path, "%s%s%s", prefix, prefix[0] ? "/" : "", name);
        } else {
            strcpy(e.path, name);
        }
        if (e.type == 'x' || e.type == 'g' || e.type == 'L' || e.type == 'K') {
            uint64_t lim = e.type == 'x' || e.type == 'g' ? MAX_PAX : PATH_MAX_TAR;
            if (e.size > lim) {
                snprintf(err, errlen, "extended header of %llu bytes exceeds %llu", (unsigned long long)e.size,
                         (unsigned long long)lim);
                return -1;
            }
            size_t n = (size_t)e.size, padded = (n + BLOCK - 1) / BLOCK * BLOCK;
            if (padded > MAX_PAX || in_exact(s, pax, padded) < 0)
                return -1;
            pax[n] = 0;
            if (e.type == 'x' && parse_pax(pax, n, &pd, err, errlen) < 0)
                return -1;
            if (e.type == 'L' || e.type == 'K') {
                char *dst = e.type == 'L' ? pd.path : pd.link;
                snprintf(dst, PATH_MAX_TAR + 1, "%s", pax);
                *(e.type == 'L' ? &pd.has_path : &pd.has_link) = 1;
            }
            continue;
        }
        if (pd.has_path)
            strcpy(e.path, pd.path);
        if (pd.has_link)
            strcpy(e.link, pd.link);
        if (pd.has_size)
            e.size = pd.size;
        if (pd.has_uid)
            e.uid = pd.uid;
        if (pd.has_gid)
            e.gid = pd.gid;
        if (pd.has_mtime)
            e.mtime = pd.mtime;
        memset(&pd, 0, sizeof pd);
        if (strchr("123456", e.type) && e.type)
            e.size = 0; /* directories, links and devices carry no data */
        uint64_t size = e.size;
        if (extract(s, root, &e, flags, err, errlen) < 0)
            return -1;
        if (e.size && copy_body(s, -1, e.size, e.path, err, errlen) < 0) /* skipped content */
            return -1;
        (*entries)++;
        *bytes += size;
    }
}

static int mkdirs(const char *path)
{
    char buf[MAX_STR + 1];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int copy_in_channel(int fd, const struct frame *first, uint8_t *buf)
{
    struct rd r;
    rd_init(&r, first->payload, first->len);
    uint32_t flags = rd_u32(&r);
    char *dest = rd_str(&r, MAX_STR, "destination longer than 4096 bytes");
    if (rd_end(&r) < 0 || first->stream)
        return send_error(fd, E_BAD_FRAME, 0, "COPY_IN: %s", r.bad ? r.bad : "stream must be 0"), -1;
    if (flags & ~(COPY_IN_MKDIRS | COPY_IN_NO_OVERWRITE))
        return send_error(fd, E_BAD_FRAME, 0, "COPY_IN: unknown flags 0x%x", flags), -1;
    if (dest[0] != '/')
        return send_error(fd, E_BAD_REQUEST, 0, "COPY_IN: destination '%s' is not absolute", dest), -1;
    if ((flags & COPY_IN_MKDIRS) && mkdirs(dest) < 0)
        return send_error(fd, E_IO, errno, "COPY_IN: cannot create '%s': %s", dest, strerror(errno)), -1;
    int root = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return send_error(fd, errno == ENOENT ? E_NOT_FOUND : E_IO, errno, "COPY_IN: destination '%s': %s", dest,
                          strerror(errno)), -1;
    struct in_stream s = {.fd = fd, .buf = buf, .window = INITIAL_WINDOW};
    char err[400] = {0};
    uint64_t entries = 0, bytes = 0;
    if (read_archive(&s, root, flags, &entries, &bytes, err, sizeof err) < 0) {
        const char *why = s.err[0] ? s.err : err;
        return send_error(fd, s.err[0] ? E_BAD_FRAME : E_BAD_REQUEST, 0, "COPY_IN to '%s': %s", dest, why), -1;
    }
    /* Drain anything after the end-of-archive blocks up to the host's EOF. */
    while (!s.eof) {
        s.ungranted += s.avail;
        s.avail = 0;
        if (in_fill(&s) < 0)
            return send_error(fd, E_BAD_FRAME, 0, "COPY_IN: %s", s.err), -1;
    }
    close(root);
    struct wb w;
    wb_init(&w);
    wb_u64(&w, entries);
    wb_u64(&w, bytes);
    return frame_send_wb(fd, T_COPY_DONE, S_NONE, &w);
}

/* ---- copy-out ------------------------------------------------------------------------ */

struct out_stream {
    int fd;
    uint8_t *rbuf;
    uint8_t chunk[HDR_LEN + DATA_CHUNK];
    size_t len;
    uint32_t window;
    uint64_t entries, bytes;
    char err[300];
};

static int out_flush(struct out_stream *o)
{
    size_t off = 0;
    while (off < o->len) {
        while (o->window == 0) {
            struct frame f;
            const char *why = NULL;
            int r = frame_recv(o->fd, &f, o->rbuf, -1, &why);
            struct rd rr;
            rd_init(&rr, f.payload, r == 1 ? f.len : 0);
            uint32_t inc = r == 1 ? rd_u32(&rr) : 0;
            if (r != 1 || f.type != T_WINDOW || f.stream != S_STDOUT || rd_end(&rr) < 0 || inc == 0 ||
                inc > MAX_WINDOW) {
                snprintf(o->err, sizeof o->err, "%s",
                         r == -2 ? why : r <= 0 ? "the host closed the channel" : "expected a WINDOW for stdout");
                return -1;
            }
            o->window = inc;
        }
        size_t k = o->len - off < o->window ? o->len - off : o->window;
        uint8_t h[HDR_LEN];
        put_header(h, T_DATA, S_STDOUT, (uint32_t)k);
        if (write_full(o->fd, h, HDR_LEN) < 0 || write_full(o->fd, o->chunk + HDR_LEN + off, k) < 0) {
            snprintf(o->err, sizeof o->err, "the host closed the channel");
            return -1;
        }
        o->window -= (uint32_t)k;
        off += k;
    }
    o->len = 0;
    return 0;
}

static int out_write(struct out_stream *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        size_t k = DATA_CHUNK - o->len < n ? DATA_CHUNK - o->len : n;
        memcpy(o->chunk + HDR_LEN + o->len, b, k);
        o->len += k;
        b += k;
        n -= k;
        if (o->len == DATA_CHUNK && out_flush(o) < 0)
            return -1;
    }
    return 0;
}

static void octal(uint8_t *f, size_t len, uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%0*llo", (int)(len - 1), (unsigned long long)v);
    memcpy(f, tmp, len - 1);
    f[len - 1] = 0;
}

static void pax_record(char *buf, size_t *len, size_t cap, const char *key, const char *val)
{
    size_t body = strlen(key) + strlen(val) + 3; /* ' ' '=' '\n' */
    size_t total = body + 1;
    for (;;) {
        char digits[24];
        size_t d = (size_t)snprintf(digits, sizeof digits, "%zu", total);
        if (body + d == total)
            break;
        total = body + d;
    }
    if (*len + total <= cap)
        *len += (size_t)snprintf(buf + *len, cap - *len + 1, "%zu %s=%s\n", total, key, val);
}

static int put_block(struct out_stream *o, uint8_t *h)
{
    memcpy(h + 148, "        ", 8);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += h[i];
    char ck[8];
    snprintf(ck, sizeof ck, "%06o", sum);
    memcpy(h + 148, ck, 7);
    h[155] = ' ';
    return out_write(o, h, BLOCK);
}

static int tar_header(struct out_stream *o, const char *name, const struct stat *st, char type, const char *link,
                      uint64_t size)
{
    static char pax[3 * PATH_MAX_TAR];
    uint8_t h[BLOCK];
    size_t plen = 0, nlen = strlen(name);
    const char *short_name = name, *prefix = "";
    char prefix_buf[156];
    if (nlen > 100) {
        /* ustar can split at a '/' into a 155-byte prefix and a 100-byte name */
        const char *cut = NULL;
        for (const char *p = name + (nlen > 101 ? nlen - 101 : 0); *p; p++) {
            if (*p == '/' && (size_t)(p - name) <= 155 && strlen(p + 1) <= 100 && p != name) {
                cut = p;
                break;
            }
        }
        if (cut) {
            memcpy(prefix_buf, name, (size_t)(cut - name));
            prefix_buf[cut - name] = 0;
            prefix = prefix_buf;
            short_name = cut + 1;
        } else {
            pax_record(pax, &plen, sizeof pax - 1, "path", name);
            short_name = "";
        }
    }
    if (link && strlen(link) > 100)
        pax_record(pax, &plen, sizeof pax - 1, "linkpath", link);
    char num[24];
    if (size > 077777777777ULL) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)size);
        pax_record(pax, &plen, sizeof pax - 1, "size", num);
    }
    if (st->st_uid > 07777777) {
        snprintf(num, sizeof num, "%u", (unsigned)st->st_uid);
        pax_record(pax, &plen, sizeof pax - 1, "uid", num);
    }
    if (st->st_gid > 07777777) {
        snprintf(num, sizeof num, "%u", (unsigned)st->st_gid);
        pax_record(pax, &plen, sizeof pax - 1, "gid", num);
    }
    uint64_t mtime = st->st_mtime < 0 ? 0 : (uint64_t)st->st_mtime;
    if (plen) {
        memset(h, 0, BLOCK);
        snprintf((char *)h, 100, "PaxHeaders/%.80s", short_name[0] ? short_name : "entry");
        octal(h + 100, 8, 0644);
        octal(h + 108, 8, 0);
        octal(h + 116, 8, 0);
        octal(h + 124, 12, plen);
        octal(h + 136, 12, mtime > 077777777777ULL ? 0 : mtime);
        h[156] = 'x';
        memcpy(h + 257, "ustar\0" "00", 8);
        if (put_block(o, h) < 0 || out_write(o, pax, plen) < 0)
            return -1;
        static const uint8_t zeros[BLOCK];
        if (plen % BLOCK && out_write(o, zeros, BLOCK - plen % BLOCK) < 0)
            return -1;
    }
    memset(h, 0, BLOCK);
    memcpy(h, short_name, strnlen(short_name, 100));
    octal(h + 100, 8, st->st_mode & 07777);
    octal(h + 108, 8, st->st_uid > 07777777 ? 0 : st->st_uid);
    octal(h + 116, 8, st->st_gid > 07777777 ? 0 : st->st_gid);
    octal(h + 124, 12, size > 077777777777ULL ? 0 : size);
    octal(h + 136, 12, mtime > 077777777777ULL ? 077777777777ULL : mtime);
    h[156] = (uint8_t)type;
    if (link)
        memcpy(h + 157, link, strnlen(link, 100));
    memcpy(h + 257, "ustar\0" "00", 8);
    if (type == '3' || type == '4') {
        octal(h + 329, 8, major(st->st_rdev));
        octal(h + 337, 8, minor(st->st_rdev));
    }
    memcpy(h + 345, prefix, strlen(prefix));
    o->entries++;
    return put_block(o, h);
}

static int put_file_body(struct out_stream *o, int fd, uint64_t size, const char *name)
{
    static uint8_t buf[64 * 1024];
    uint64_t left = size;
    while (left) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(o->err, sizeof o->err, "read '%s': %s", name, strerror(errno));
            return -1;
        }
        if (n == 0) { /* the file shrank while being copied: pad to the promised size */
            memset(buf, 0, want);
            n = (ssize_t)want;
        }
        if (out_write(o, buf, (size_t)n) < 0)
            return -1;
        left -= (uint64_t)n;
    }
    o->bytes += size;
    static const uint8_t zeros[BLOCK];
    return size % BLOCK ? out_write(o, zeros, BLOCK - size % BLOCK) : 0;
}

/* Writes the member at (dirfd, leaf) named `name` in the archive, recursing into directories. */
static int put_tree(struct out_stream *o, int at, const char *leaf, char *name, size_t nlen, int follow)
{
    struct stat st;
    if (fstatat(at, leaf, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0) {
        snprintf(o->err, sizeof o->err, "stat '%s': %s", name, strerror(errno));
        return -1;
    }
    int nf = follow ? 0 : O_NOFOLLOW;
    if (S_ISREG(st.st_mode)) {
        int fd = openat(at, leaf, O_RDONLY | O_CLOEXEC | nf);
        if (fd < 0) {
            snprintf(o->err, sizeof o->err, "open '%s': %s", name, strerror(errno));
            return -1;
        }
        int rc = tar_header(o, name, &st, '0', NULL, (uint64_t)st.st_size) < 0 ||
                 put_file_body(o, fd, (uint64_t)st.st_size, name) < 0 ? -1 : 0;
        close(fd);
        return rc;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX_TAR + 1];
        ssize_t n = readlinkat(at, leaf, target, PATH_MAX_TAR);
        if (n < 0) {
            snprintf(o->err, sizeof o->err, "readlink '%s': %s", name, strerror(errno));
            return -1;
        }
        target[n] = 0;
        return tar_header(o, name, &st, '2', target, 0);
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        return tar_header(o, name, &st, S_ISFIFO(st.st_mode) ? '6' : S_ISCHR(st.st_mode) ? '3' : '4', NULL, 0);
    if (!S_ISDIR(st.st_mode))
        return 0; /* sockets have no tar form */
    int dfd = openat(at, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC | nf);
    if (dfd < 0) {
        snprintf(o->err, sizeof o->err, "open directory '%s': %s", name, strerror(errno));
        return -1;
    }
    name[nlen] = '/';
    name[nlen + 1] = 0;
    if (tar_header(o, name, &st, '5', NULL, 0) < 0) {
        close(dfd);
        return -1;
    }
    name[nlen] = 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        snprintf(o->err, sizeof o->err, "read directory '%s': %s", name, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t el = strlen(e->d_name);
        if (nlen + 1 + el + 1 > PATH_MAX_TAR) {
            snprintf(o->err, sizeof o->err, "path '%s/%s' exceeds %u bytes", name, e->d_name, PATH_MAX_TAR);
            rc = -1;
            break;
        }
        size_t base = nlen;
        if (nlen && name[nlen - 1] != '/')
            name[base++] = '/';
        memcpy(name + base, e->d_name, el + 1);
        rc = put_tree(o, dirfd(d), e->d_name, name, base + el, 0);
        name[nlen] = 0;
    }
    closedir(d);
    return rc;
}

int copy_out_channel(int fd, const struct frame *first, uint8_t *buf)
{
    struct rd r;
    rd_init(&r, first->payload, first->len);
    uint32_t flags = rd_u32(&r);
    char *src = rd_str(&r, MAX_STR, "source longer than 4096 bytes");
    if (rd_end(&r) < 0 || first->stream)
        return send_error(fd, E_BAD_FRAME, 0, "COPY_OUT: %s", r.bad ? r.bad : "stream must be 0"), -1;
    if (flags & ~COPY_OUT_FOLLOW)
        return send_error(fd, E_BAD_FRAME, 0, "COPY_OUT: unknown flags 0x%x", flags), -1;
    if (src[0] != '/')
        return send_error(fd, E_BAD_REQUEST, 0, "COPY_OUT: source '%s' is not absolute", src), -1;
    /* The archive names members after the source's last component, like `tar -C dir base`. */
    size_t n = strlen(src);
    while (n > 1 && src[n - 1] == '/')
        src[--n] = 0;
    char *slash = strrchr(src, '/');
    const char *leaf = slash[1] ? slash + 1 : ".";
    char parent[MAX_STR + 2];
    snprintf(parent, sizeof parent, "%.*s", slash == src ? 1 : (int)(slash - src), src);
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (pfd < 0 || fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return send_error(fd, errno == ENOENT ? E_NOT_FOUND : E_IO, errno, "COPY_OUT: '%s': %s", src,
                          strerror(errno)), -1;
    static struct out_stream o;
    o.fd = fd;
    o.rbuf = buf;
    o.window = INITIAL_WINDOW;
    static char name[PATH_MAX_TAR + 2];
    snprintf(name, sizeof name, "%s", leaf);
    static const uint8_t zeros[2 * BLOCK];
    if (put_tree(&o, pfd, leaf, name, strlen(name), (flags & COPY_OUT_FOLLOW) != 0) < 0 ||
        out_write(&o, zeros, sizeof zeros) < 0 || out_flush(&o) < 0)
        return send_error(fd, E_IO, 0, "COPY_OUT of '%s': %s", src, o.err), -1;
    close(pfd);
    if (frame_send(fd, T_EOF, S_STDOUT, NULL, 0) < 0)
        return -1;
    struct wb w;
    wb_init(&w);
    wb_u64(&w, o.entries);
    wb_u64(&w, o.bytes);
    return frame_send_wb(fd, T_COPY_DONE, S_NONE, &w);
}
