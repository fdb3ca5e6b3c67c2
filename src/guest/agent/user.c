/* User resolution from the box's own /etc/passwd and /etc/group (never the host's NSS). */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_id(const char *s, unsigned long *out)
{
    if (!*s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > 0xfffffffeUL)
        return -1;
    *out = v;
    return 0;
}

/* Splits a colon-separated database line in place into at most n fields. */
static int split_fields(char *line, char **fields, int n)
{
    int i = 0;
    line[strcspn(line, "\n")] = 0;
    fields[i++] = line;
    for (char *p = line; *p && i < n; p++) {
        if (*p == ':') {
            *p = 0;
            fields[i++] = p + 1;
        }
    }
    return i;
}

struct pw { char name[64]; unsigned long uid, gid; char home[256]; };

/* Finds a passwd entry by name (when byname) or by uid. */
static int find_passwd(const char *name, unsigned long uid, int byname, struct pw *out)
{
    FILE *fp = fopen("/etc/passwd", "re");
    if (!fp)
        return -1;
    char line[1024];
    int found = -1;
    while (fgets(line, sizeof line, fp)) {
        char *f[7];
        unsigned long u, g;
        if (split_fields(line, f, 7) < 7 || parse_id(f[2], &u) || parse_id(f[3], &g))
            continue;
        if (byname ? strcmp(f[0], name) != 0 : u != uid)
            continue;
        snprintf(out->name, sizeof out->name, "%s", f[0]);
        snprintf(out->home, sizeof out->home, "%s", f[5]);
        out->uid = u;
        out->gid = g;
        found = 0;
        break;
    }
    fclose(fp);
    return found;
}

static int find_group(const char *name, unsigned long *gid)
{
    FILE *fp = fopen("/etc/group", "re");
    if (!fp)
        return -1;
    char line[4096];
    int found = -1;
    while (fgets(line, sizeof line, fp)) {
        char *f[4];
        unsigned long g;
        if (split_fields(line, f, 4) < 3 || parse_id(f[2], &g))
            continue;
        if (!strcmp(f[0], name)) {
            *gid = g;
            found = 0;
            break;
        }
    }
    fclose(fp);
    return found;
}

static void add_group(struct user_spec *u, gid_t g)
{
    for (int i = 0; i < u->ngroups; i++)
        if (u->groups[i] == g)
            return;
    if (u->ngroups < (int)(sizeof u->groups / sizeof u->groups[0]))
        u->groups[u->ngroups++] = g;
}

/* Supplementary groups: every /etc/group entry that lists the user as a member. */
static void member_groups(struct user_spec *u)
{
    FILE *fp = fopen("/etc/group", "re");
    if (!fp)
        return;
    char line[4096];
    while (fgets(line, sizeof line, fp)) {
        char *f[4];
        unsigned long g;
        if (split_fields(line, f, 4) < 4 || parse_id(f[2], &g))
            continue;
        for (char *m = strtok(f[3], ","); m; m = strtok(NULL, ","))
            if (!strcmp(m, u->name))
                add_group(u, (gid_t)g);
    }
    fclose(fp);
}

int resolve_user(const char *spec, struct user_spec *out, char *err, size_t errlen)
{
    char buf[256];
    memset(out, 0, sizeof *out);
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, errlen, "user '%.40s...' is too long", spec);
        return E_BAD_REQUEST;
    }
    strcpy(buf, spec);
    char *group = strchr(buf, ':');
    if (group)
        *group++ = 0;
    if (!*buf || (group && !*group)) {
        snprintf(err, errlen, "user '%s' is malformed (want name, uid, name:group or uid:gid)", spec);
        return E_BAD_REQUEST;
    }
    struct pw pw;
    unsigned long id;
    if (parse_id(buf, &id) == 0) {
        out->uid = (uid_t)id;
        out->gid = 0; /* Docker's rule for a uid without a passwd entry */
        strcpy(out->home, "/");
        if (find_passwd(NULL, id, 0, &pw) == 0) {
            out->gid = (gid_t)pw.gid;
            snprintf(out->name, sizeof out->name, "%s", pw.name);
            snprintf(out->home, sizeof out->home, "%s", pw.home);
            out->found = 1;
        }
    } else if (find_passwd(buf, 0, 1, &pw) == 0) {
        out->uid = (uid_t)pw.uid;
        out->gid = (gid_t)pw.gid;
        snprintf(out->name, sizeof out->name, "%s", pw.name);
        snprintf(out->home, sizeof out->home, "%s", pw.home);
        out->found = 1;
    } else {
        snprintf(err, errlen, "user '%s' not found in the box's /etc/passwd", buf);
        return E_NOT_FOUND;
    }
    if (group) {
        if (parse_id(group, &id) == 0) {
            out->gid = (gid_t)id;
        } else if (find_group(group, &id) == 0) {
            out->gid = (gid_t)id;
        } else {
            snprintf(err, errlen, "group '%s' not found in the box's /etc/group", group);
            return E_NOT_FOUND;
        }
    }
    add_group(out, out->gid);
    if (out->found)
        member_groups(out);
    return 0;
}
