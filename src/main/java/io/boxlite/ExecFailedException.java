package io.boxlite;

/** Thrown by {@link ExecResult#orThrow()} when a command did not succeed; carries its result. */
public final class ExecFailedException extends BoxliteException {
    private static final long serialVersionUID = 1L;

    private final transient ExecResult result;

    public ExecFailedException(ExecResult result) {
        super(ErrorCode.EXECUTION, describe(result));
        this.result = result;
    }

    /** The command's result, output included. */
    public ExecResult result() {
        return result;
    }

    private static String describe(ExecResult r) {
        String how = r.timedOut() ? "timed out and was killed"
                : r.signal() != 0 ? "was killed by signal " + r.signal()
                : "exited with status " + r.exitCode();
        String err = r.stderr().strip();
        if (err.length() > 500) {
            err = "…" + err.substring(err.length() - 500);
        }
        return "The command " + how + (err.isEmpty() ? "" : ": " + err);
    }
}
