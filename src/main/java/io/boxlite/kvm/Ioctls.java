package io.boxlite.kvm;

import io.boxlite.sys.Libc;

import java.lang.foreign.MemorySegment;

/** The one place KVM ioctls are issued: call, check, throw {@link KvmException}. */
final class Ioctls {
    private Ioctls() {
    }

    static int call(int fd, long request, MemorySegment arg, String name) {
        int r = Libc.ioctl(fd, request, arg);
        if (r < 0) {
            throw new KvmException("ioctl(" + name + ")", Libc.errno());
        }
        return r;
    }

    /** For ioctls whose argument is an integer passed in the pointer slot. */
    static int call(int fd, long request, long intArg, String name) {
        return call(fd, request, MemorySegment.ofAddress(intArg), name);
    }
}
