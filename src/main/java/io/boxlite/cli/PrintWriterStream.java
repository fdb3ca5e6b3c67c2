package io.boxlite.cli;

import java.io.OutputStream;
import java.io.PrintWriter;

/** Guest console bytes into picocli's writer (Latin-1 byte-per-char, so nothing is dropped or re-encoded badly). */
final class PrintWriterStream extends OutputStream {
    private final PrintWriter out;

    PrintWriterStream(PrintWriter out) {
        this.out = out;
    }

    @Override
    public void write(int b) {
        out.write(b & 0xFF);
    }

    @Override
    public void flush() {
        out.flush();
    }

    @Override
    public void close() {
        out.flush(); // the writer belongs to the command line
    }
}
