/* PID 1 duties: boot the box and power it off. Runs only when getpid() == 1.
 *
 * Boot sequence (docs/guest-protocol.md, "Agent boot sequence"):
 *   1. mount proc, sysfs and devtmpfs in the initramfs; attach stdio to /dev/console;
 *   2. load the kernel modules listed in /etc/boxlite/modules, in file order (finit_module);
 *   3. wait for the root device (boxlite.root=, default /dev/vda) and mount it (ext4) on /newroot;
 *      if the device is larger than the ext4 on it (the box asked for a bigger disk), grow the
 *      filesystem online with the initramfs's /sbin/resize2fs;
 *   4. switch root the switch_root way: move /proc, /sys, /dev into the new root, delete the
 *      initramfs files (they are RAM), move-mount the new root over / and chroot into it
 *      (pivot_root cannot pivot away from the initramfs: EINVAL);
 *   5. mount devpts, /dev/shm, /tmp and /run inside; set the hostname; bring up lo.
 * boxlite.root=none skips 3 and 4 and serves from the initramfs itself. */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODULES_FILE "/etc/boxlite/modules"
#define NEWROOT "/newroot"
#define ROOT_WAIT_MS 10000
#define RESIZE2FS "/sbin/resize2fs"

struct boot_args {
    char root[128];
    char fstype[32];
    char flags[256];
    char hostname[64];
};

static void mount_or_log(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
    mkdir(dst, 0755);
    if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
        logmsg("mount %s on %s: %s", type, dst, strerror(errno));
}

static void console_stdio(void)
{
    if (fcntl(0, F_GETFD) >= 0 && fcntl(1, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0)
        return;
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

static void cmdline_value(const char *cmdline, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    for (const char *p = cmdline; (p = strstr(p, key)) != NULL; p += klen) {
        if ((p == cmdline || p[-1] == ' ') && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, " \n");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return;
        }
    }
}

static void read_boot_args(struct boot_args *a)
{
    snprintf(a->root, sizeof a->root, "/dev/vda");
    snprintf(a->fstype, sizeof a->fstype, "ext4");
    a->flags[0] = 0;
    snprintf(a->hostname, sizeof a->hostname, "boxlite");
    char cmdline[4096] = {0};
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, cmdline, sizeof cmdline - 1) < 0)
            cmdline[0] = 0;
        close(fd);
    }
    cmdline_value(cmdline, "boxlite.root", a->root, sizeof a->root);
    cmdline_value(cmdline, "boxlite.rootfstype", a->fstype, sizeof a->fstype);
    cmdline_value(cmdline, "boxlite.rootflags", a->flags, sizeof a->flags);
    cmdline_value(cmdline, "boxlite.hostname", a->hostname, sizeof a->hostname);
}

/* Each line: a module path, then optional parameters. Order matters (dependencies first). */
static void load_modules(void)
{
    FILE *fp = fopen(MODULES_FILE, "re");
    if (!fp) {
        logmsg("no %s: loading no modules", MODULES_FILE);
        return;
    }
    char line[1024];
    int loaded = 0;
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\n")] = 0;
        char *path = line + strspn(line, " \t");
        if (!*path || *path == '#')
            continue;
        char *params = path + strcspn(path, " \t");
        if (*params)
            *params++ = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            logmsg("module %s: %s", path, strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, params, 0) < 0 && errno != EEXIST)
            logmsg("module %s: finit_module: %s", path, strerror(errno));
        else
            loaded++;
        close(fd);
    }
    fclose(fp);
    logmsg("loaded %d kernel modules", loaded);
}

/* Deletes the initramfs's files, staying on its filesystem (mounts are skipped). */
static void remove_tree(int dfd, dev_t dev)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                remove_tree(sub, dev);
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}

static void wait_for(const char *path)
{
    struct stat st;
    for (int waited = 0; stat(path, &st) < 0 && waited < ROOT_WAIT_MS; waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The device's size and the ext2/3/4 filesystem's on it, both in filesystem blocks. Returns -1
 * (after logging) when either cannot be read or the superblock is not ext's. */
static int ext_sizes(const char *dev, uint64_t *device_blocks, uint64_t *fs_blocks, uint32_t *block_size)
{
    int fd = open(dev, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        logmsg("root filesystem: cannot grow it: open %s: %s", dev, strerror(errno));
        return -1;
    }
    uint64_t bytes = 0;
    unsigned char sb[1024];
    int ok = ioctl(fd, BLKGETSIZE64, &bytes) == 0 && pread(fd, sb, sizeof sb, 1024) == (ssize_t)sizeof sb;
    int err = errno;
    close(fd);
    if (!ok) {
        logmsg("root filesystem: cannot grow it: read the size and superblock of %s: %s", dev, strerror(err));
        return -1;
    }
    uint32_t log_block = le32(sb + 0x18);
    if ((sb[0x38] | sb[0x39] << 8) != 0xEF53 || log_block > 6) {
        logmsg("root filesystem: cannot grow it: %s holds no ext2/3/4 superblock", dev);
        return -1;
    }
    *block_size = 1024u << log_block;
    *fs_blocks = le32(sb + 0x04);
    if (le32(sb + 0x60) & 0x80) /* INCOMPAT_64BIT: the high half of s_blocks_count */
        *fs_blocks |= (uint64_t)le32(sb + 0x150) << 32;
    *device_blocks = bytes / *block_size;
    return 0;
}

/* Grows the mounted root filesystem to its device when the host gave the box a bigger disk
 * (diskSizeGb). Online resizing goes through the kernel's journal, so a failure leaves the
 * filesystem consistent at its old size; it is logged and the box boots anyway. The host reads
 * the "root filesystem:" lines from the console. */
static void grow_root(const char *dev, const char *fstype)
{
    uint64_t device_blocks, fs_blocks;
    uint32_t block_size;
    if (strncmp(fstype, "ext", 3) != 0 || ext_sizes(dev, &device_blocks, &fs_blocks, &block_size) < 0
        || device_blocks <= fs_blocks)
        return;
    logmsg("root filesystem: growing from %llu to %llu blocks of %u bytes", (unsigned long long)fs_blocks,
           (unsigned long long)device_blocks, block_size);
    pid_t pid = fork();
    if (pid == 0) {
        char *const argv[] = {"resize2fs", (char *)dev, NULL};
        char *const envp[] = {"PATH=/sbin:/bin", NULL};
        execve(RESIZE2FS, argv, envp);
        dprintf(2, "boxlite-agent: exec " RESIZE2FS ": %s\n", strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0) {
        logmsg("root filesystem: cannot grow it: fork: %s", strerror(errno));
        return;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    uint64_t now = fs_blocks;
    if (ext_sizes(dev, &device_blocks, &now, &block_size) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0
        && now > fs_blocks)
        logmsg("root filesystem: grew to %llu blocks", (unsigned long long)now);
    else
        logmsg("root filesystem: cannot grow it: resize2fs %s %d; it stays at %llu blocks",
               WIFEXITED(status) ? "exited with" : "was killed by signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), (unsigned long long)now);
}

static void switch_root(const struct boot_args *a)
{
    wait_for(a->root);
    mkdir(NEWROOT, 0755);
    if (mount(a->root, NEWROOT, a->fstype, 0, a->flags[0] ? a->flags : NULL) < 0)
        die("mount %s (%s) on %s: %s", a->root, a->fstype, NEWROOT, strerror(errno));
    grow_root(a->root, a->fstype);
    static const char *const moved[] = {"/proc", "/sys", "/dev"};
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
        char dst[64];
        snprintf(dst, sizeof dst, NEWROOT "%s", moved[i]);
        mkdir(dst, 0755);
        if (mount(moved[i], dst, NULL, MS_MOVE, NULL) < 0)
            logmsg("move %s to %s: %s", moved[i], dst, strerror(errno));
    }
    struct stat st;
    int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd >= 0 && fstat(rootfd, &st) == 0)
        remove_tree(rootfd, st.st_dev);
    else if (rootfd >= 0)
        close(rootfd);
    if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
        die("switch root to %s: %s", a->root, strerror(errno));
    logmsg("switched root to %s", a->root);
}

static void loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        logmsg("bring up lo: %s", strerror(errno));
    close(fd);
}

void pid1_boot(void)
{
    struct boot_args a;
    umask(022);
    mount_or_log("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_log("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_log("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    console_stdio();
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
    read_boot_args(&a);
    load_modules();
    if (strcmp(a.root, "none") != 0)
        switch_root(&a);
    mount_or_log("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666,gid=5");
    mount_or_log("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mount_or_log("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mount_or_log("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    if (sethostname(a.hostname, strlen(a.hostname)) < 0)
        logmsg("sethostname %s: %s", a.hostname, strerror(errno));
    loopback_up();
}

/* Whether a user process other than init and the caller is still alive. kill(-1, 0) cannot tell:
 * it succeeds while kernel threads exist, which is always. Zombies (already dead) do not count. */
static int user_processes_left(void)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return 1;
    pid_t self = getpid();
    int left = 0;
    struct dirent *e;
    while (!left && (e = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == self)
            continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (n <= 0)
            continue;
        stat[n] = 0;
        char *rp = strrchr(stat, ')');
        char state;
        unsigned long flags;
        /* after ") ": state ppid pgrp session tty_nr tpgid flags */
        if (!rp || sscanf(rp + 2, "%c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
            continue;
        if (state != 'Z' && !(flags & 0x00200000UL)) /* PF_KTHREAD */
            left = 1;
    }
    closedir(proc);
    return left;
}

void pid1_terminate_all(uint32_t grace_ms)
{
    kill(-1, SIGTERM);
    for (uint32_t waited = 0; waited < grace_ms; waited += 20) {
        if (!user_processes_left())
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-1, SIGKILL);
}

void pid1_power(unsigned cmd)
{
    kill(-1, SIGKILL);
    sync();
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
        logmsg("remount / read-only: %s", strerror(errno));
    sync();
    reboot(cmd == SHUTDOWN_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
    logmsg("reboot(2): %s", strerror(errno));
    for (;;)
        pause();
}
