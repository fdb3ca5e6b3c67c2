package io.boxlite.runtime;

import io.boxlite.StorageException;
import io.boxlite.agent.OutputListener;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;

/**
 * A command's output appended to a log file, stdout and stderr interleaved as they arrive (the
 * box's main command, background commands). A failed write is logged, not thrown: the command
 * must not die because its log's disk filled up.
 */
final class LogSink implements OutputListener, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(LogSink.class.getName());

    private final Path file;
    private final OutputStream out;

    private LogSink(Path file, OutputStream out) {
        this.file = file;
        this.out = out;
    }

    /** @throws StorageException if the file cannot be opened */
    static LogSink open(Path file, OpenOption... options) {
        try {
            return new LogSink(file, Files.newOutputStream(file, options));
        } catch (IOException e) {
            throw new StorageException("Cannot open the log " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void onStdout(byte[] chunk) {
        append(chunk);
    }

    @Override
    public void onStderr(byte[] chunk) {
        append(chunk);
    }

    void append(byte[] data) {
        try {
            synchronized (out) {
                out.write(data);
                out.flush();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", file, e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            synchronized (out) {
                out.close();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", file, e.getMessage());
        }
    }
}
