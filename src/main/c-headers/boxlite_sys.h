/*
 * boxlite_sys.h — the one input to jextract for BoxLite for Java.
 *
 * It pulls in the Linux KVM uapi and the glibc calls the runtime needs (KVM engine, vhost-user
 * server, event loops, fd passing, later virtio-fs and the terminal), and re-declares glibc's
 * variadic functions with fixed arity so jextract emits plain static methods instead of
 * boxing invokers, and socket calls with plain pointers where glibc uses transparent unions. Fixed-arity calls to variadic functions are sound on x86-64 SysV: integer
 * and pointer arguments travel in the same registers, and %al only bounds the vector-register
 * spill. The variadic originals are renamed away with a macro while their headers are read.
 *
 * Regenerate with jextract-config/regenerate (see jextract-config/README.md).
 */
#define _GNU_SOURCE 1

/* Rename glibc's variadic prototypes out of the way; ours follow below. */
#define open   boxlite_glibc_open_variadic
#define openat boxlite_glibc_openat_variadic
#define fcntl  boxlite_glibc_fcntl_variadic
#define ioctl  boxlite_glibc_ioctl_variadic
#define prctl  boxlite_glibc_prctl_variadic
#define syscall boxlite_glibc_syscall_variadic
/* With _GNU_SOURCE glibc declares these with a transparent union, which jextract would pass by value. */
#define bind    boxlite_glibc_bind_union
#define connect boxlite_glibc_connect_union
#define accept4 boxlite_glibc_accept4_union
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>
#undef open
#undef openat
#undef fcntl
#undef ioctl
#undef prctl
#undef syscall
#undef bind
#undef connect
#undef accept4

#include <linux/kvm.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

#include <errno.h>
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <poll.h>
#include <termios.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <stdio.h> /* renameat2, RENAME_* */

/* Fixed-arity and plain-pointer replacements for the renamed glibc functions (same symbols). */
extern int open(const char *path, int flags, unsigned int mode);
extern int openat(int dirfd, const char *path, int flags, unsigned int mode);
extern int fcntl(int fd, int cmd, unsigned long arg);
extern int ioctl(int fd, unsigned long request, void *arg);
extern int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
                 unsigned long arg5);
extern long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
extern int bind(int fd, const struct sockaddr *addr, socklen_t len);
extern int connect(int fd, const struct sockaddr *addr, socklen_t len);
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/* Numbers of system calls glibc 2.36 has no wrapper for. */
enum boxlite_syscall_numbers {
    BOXLITE_SYS_openat2 = __NR_openat2,
};
