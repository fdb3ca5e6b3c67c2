package io.boxlite;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * A throwaway sandbox for try-with-resources: BoxLite's {@code SimpleBox}. {@link #create}
 * starts the box; {@link #exec(String, String...)} runs a command and collects its output;
 * {@link #close()} stops the box and, with {@code autoRemove} (the default), removes it.
 *
 * {@snippet :
 * try (SimpleBox box = SimpleBox.create("python:3.12-slim")) {
 *     ExecResult r = box.exec("python3", "-c", "print(6 * 7)");
 *     System.out.println(r.stdout());            // 42
 *     box.exec("false").orThrow();               // throws ExecFailedException
 * }
 * }
 */
public final class SimpleBox implements AutoCloseable {
    private final Box box;

    private SimpleBox(Box box) {
        this.box = box;
    }

    /** A started box of {@code image} on the {@linkplain Boxlite#defaultRuntime() default runtime}. */
    public static SimpleBox create(String image) {
        return create(Boxlite.defaultRuntime(), BoxOptions.builder().image(image).build());
    }

    public static SimpleBox create(BoxOptions options) {
        return create(Boxlite.defaultRuntime(), options);
    }

    /** A started box on {@code runtime}. */
    public static SimpleBox create(Boxlite runtime, BoxOptions options) {
        return start(runtime.create(options));
    }

    /** A started box with a unique name on {@code runtime}. */
    public static SimpleBox create(Boxlite runtime, BoxOptions options, String name) {
        return start(runtime.create(options, name));
    }

    private static SimpleBox start(Box box) {
        try {
            box.start();
        } catch (RuntimeException e) {
            try {
                box.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return new SimpleBox(box);
    }

    /**
     * Runs a command and waits for it, collecting stdout and stderr. A non-zero exit is returned,
     * not thrown; use {@link ExecResult#orThrow()} for that.
     */
    public ExecResult exec(String command, String... args) {
        return exec(BoxCommand.of(command, args));
    }

    public ExecResult exec(BoxCommand command) {
        try (Execution run = box.exec(command)) {
            run.stdin().close();
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(run.stderr()), Boxlite.ASYNC);
            String out = drain(run.stdout());
            ExecResult r = run.waitFor();
            return new ExecResult(r.exitCode(), r.signal(), r.timedOut(), out, err.join(), r.duration());
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "Cannot close the command's stdin: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.EXECUTION, "Interrupted while waiting for " + command.command(), e);
        }
    }

    public CompletableFuture<ExecResult> execAsync(String command, String... args) {
        return CompletableFuture.supplyAsync(() -> exec(command, args), Boxlite.ASYNC);
    }

    public CompletableFuture<ExecResult> execAsync(BoxCommand command) {
        return CompletableFuture.supplyAsync(() -> exec(command), Boxlite.ASYNC);
    }

    private static String drain(InputStream in) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            in.transferTo(out);
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "Reading the command's output failed: "
                    + e.getMessage(), e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The underlying box. */
    public Box box() {
        return box;
    }

    public String id() {
        return box.id();
    }

    public BoxInfo info() {
        return box.info();
    }

    public BoxMetrics metrics() {
        return box.metrics();
    }

    public void copyIn(Path hostPath, String guestDir) {
        box.copyIn(hostPath, guestDir);
    }

    public void copyOut(String guestPath, Path hostDir) {
        box.copyOut(guestPath, hostDir);
    }

    public void stop() {
        box.stop();
    }

    /** Stops the box; with {@code autoRemove} it is removed. Idempotent. */
    @Override
    public void close() {
        box.close();
    }
}
