package io.boxlite.kvm;

import io.boxlite.ErrorCode;
import io.boxlite.sys.NativeException;

/** A KVM ioctl failed; the message names the ioctl, errno and its text, and advice where known. */
public final class KvmException extends NativeException {
    private static final long serialVersionUID = 1L;

    public KvmException(String operation, int errno) {
        super(ErrorCode.ENGINE, operation, errno, null);
    }

    public KvmException(String operation, int errno, String advice) {
        super(ErrorCode.ENGINE, operation, errno, advice);
    }

    private KvmException(String message) {
        super(ErrorCode.ENGINE, message);
    }

    /** KVM handed back something impossible (e.g. an I/O exit whose data lies outside kvm_run). */
    static KvmException protocol(String message) {
        return new KvmException(message);
    }
}
