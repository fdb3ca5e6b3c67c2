package io.boxlite.sys;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

/**
 * A system call failed. Carries the operation, the errno value and its name and description,
 * e.g. {@code "KVM_CREATE_VM failed: EACCES (Permission denied)"}.
 */
public class NativeException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    private final String operation;
    private final int errno;

    public NativeException(String operation, int errno) {
        this(ErrorCode.INTERNAL, operation, errno, null);
    }

    public NativeException(ErrorCode code, String operation, int errno, String advice) {
        super(code, operation + " failed: " + Libc.errnoText(errno) + (advice == null ? "" : ". " + advice));
        this.operation = operation;
        this.errno = errno;
    }

    /** A failure detected in a native protocol rather than reported through errno. */
    protected NativeException(ErrorCode code, String message) {
        super(code, message);
        this.operation = message;
        this.errno = 0;
    }

    /** What was attempted, e.g. {@code "ioctl(KVM_RUN)"}. */
    public String operation() {
        return operation;
    }

    /** The errno value the call failed with. */
    public int errno() {
        return errno;
    }
}
