package io.boxlite.cli;

import io.boxlite.Box;
import io.boxlite.BoxCommand;
import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.ExecResult;
import io.boxlite.Execution;
import io.boxlite.NotFoundException;
import io.boxlite.sys.Terminal;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.util.Optional;

/**
 * Runs a command in a box wired to this process's stdio, as {@code docker run/exec} do: with
 * {@code -i} stdin is forwarded (else the command sees end-of-file), with {@code -t} it gets a
 * pseudo-terminal of the host terminal's size, the host terminal goes raw for the duration
 * (restored on every exit path, a shutdown hook included) and size changes are forwarded.
 */
final class Attach {
    /** Docker's status when the command cannot be invoked. */
    static final int CANNOT_INVOKE = 126;
    /** Docker's status when the command cannot be found. */
    static final int NOT_FOUND = 127;

    private Attach() {
    }

    /**
     * Docker's status for a command that could not start: 127 when it (or its directory or user)
     * is missing, 126 when it cannot be invoked; other failures are BoxLite's own and propagate.
     */
    static int cannotStart(BoxliteException e, PrintWriter err) {
        if (e instanceof NotFoundException) {
            err.println("boxlite: " + e.getMessage());
            return NOT_FOUND;
        }
        if (e.code() == ErrorCode.EXECUTION || e.code() == ErrorCode.INVALID_ARGUMENT) {
            err.println("boxlite: " + e.getMessage());
            return CANNOT_INVOKE;
        }
        throw e;
    }

    /** Runs it and returns its exit status (126/127 when it cannot start). */
    static int run(Box box, BoxCommand.Builder command, boolean interactive, boolean tty, PrintWriter err) {
        Optional<Terminal.Size> size = tty ? Terminal.size(1).or(() -> Terminal.size(0)) : Optional.empty();
        if (tty) {
            Terminal.Size s = size.orElse(new Terminal.Size(24, 80));
            command.tty(s.rows(), s.cols());
        }
        Execution run;
        try {
            run = box.exec(command.build());
        } catch (BoxliteException e) {
            return cannotStart(e, err);
        }
        Terminal.RawMode raw = tty && interactive && Terminal.isTerminal(0) ? Terminal.raw(0) : null;
        Thread restore = raw == null ? null : new Thread(raw::close, "boxlite-restore-terminal");
        if (restore != null) {
            Runtime.getRuntime().addShutdownHook(restore);
        }
        try (run) {
            OutputStream out = new FileOutputStream(FileDescriptor.out);
            OutputStream errOut = new FileOutputStream(FileDescriptor.err);
            Thread o = Thread.ofVirtual().start(() -> pump(run.stdout(), out));
            Thread e = Thread.ofVirtual().start(() -> pump(run.stderr(), errOut));
            if (interactive) {
                // why: a blocking read of fd 0 would pin a virtual thread's carrier
                Thread.ofPlatform().daemon().name("boxlite-stdin").start(() -> forwardStdin(run));
            } else {
                run.stdin().close();
            }
            Thread resizer = null;
            if (tty && size.isPresent()) {
                resizer = Thread.ofPlatform().daemon().name("boxlite-winch").start(() -> followSize(run, size.get()));
            }
            ExecResult result = run.waitFor();
            o.join();
            e.join();
            if (resizer != null) {
                resizer.interrupt();
            }
            return result.exitCode();
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "The command's stdin failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.EXECUTION, "Interrupted", e);
        } finally {
            if (raw != null) {
                raw.close();
                try {
                    Runtime.getRuntime().removeShutdownHook(restore);
                } catch (IllegalStateException ignored) {
                    // the JVM is exiting; the hook restores the terminal too
                }
            }
        }
    }

    private static void pump(InputStream from, OutputStream to) {
        byte[] buf = new byte[16 * 1024];
        try {
            int n;
            while ((n = from.read(buf)) > 0) {
                to.write(buf, 0, n);
                to.flush();
            }
        } catch (IOException ignored) {
            // the command ended or the host's stdout closed
        }
    }

    private static void forwardStdin(Execution run) {
        InputStream in = new FileInputStream(FileDescriptor.in);
        byte[] buf = new byte[16 * 1024];
        try (OutputStream to = run.stdin()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                to.write(buf, 0, n);
                to.flush();
            }
        } catch (IOException ignored) {
            // the command ended (its stdin closed) or the host's stdin failed
        }
    }

    /** Polls the host terminal's size (no SIGWINCH handler in plain Java) and forwards changes. */
    private static void followSize(Execution run, Terminal.Size initial) {
        Terminal.Size last = initial;
        while (!run.exited()) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
            Optional<Terminal.Size> now = Terminal.size(1).or(() -> Terminal.size(0));
            if (now.isPresent() && !now.get().equals(last)) {
                last = now.get();
                try {
                    run.resizeTty(last.rows(), last.cols());
                } catch (BoxliteException e) {
                    return;
                }
            }
        }
    }
}
