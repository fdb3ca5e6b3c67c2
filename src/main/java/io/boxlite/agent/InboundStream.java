package io.boxlite.agent;

import io.boxlite.agent.protocol.AgentProtocolException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A command's stdout or stderr on the host: a ring buffer exactly as large as the stream's
 * window, so the agent can never send more than fits. Reading frees room and, in batches,
 * grants it back to the agent (WINDOW); a reader that stops reading therefore stops the command
 * once its pipe fills, and nothing is buffered without bound.
 */
final class InboundStream extends InputStream {
    /** Sends a WINDOW increment for this stream; failures are the pump's to report. */
    interface Granter {
        void grant(int bytes);
    }

    private final String name;
    private final byte[] ring;
    private final int grantBatch;
    private final Granter granter;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition readable = lock.newCondition();
    private int head;
    private int size;
    private long credit;      // bytes the agent may still send
    private int consumed;     // read but not yet granted back
    private boolean eof;
    private boolean discarding;
    private Throwable failure;

    InboundStream(String name, int window, Granter granter) {
        this.name = name;
        this.ring = new byte[window];
        this.credit = window;
        this.grantBatch = Math.max(1, window / 4);
        this.granter = granter;
    }

    /** Called by the pump with one DATA payload. */
    void append(byte[] data) {
        int grantNow = 0;
        lock.lock();
        try {
            if (eof) {
                throw new AgentProtocolException("The guest agent sent " + name + " data after its EOF");
            }
            if (data.length > credit) {
                throw new AgentProtocolException("The guest agent sent " + data.length + " bytes of " + name
                        + " with a window of " + credit + " bytes");
            }
            credit -= data.length;
            if (discarding) {
                grantNow = data.length;
            } else {
                int tail = (head + size) % ring.length;
                int first = Math.min(data.length, ring.length - tail);
                System.arraycopy(data, 0, ring, tail, first);
                System.arraycopy(data, first, ring, 0, data.length - first);
                size += data.length;
                readable.signalAll();
            }
        } finally {
            lock.unlock();
        }
        if (grantNow > 0) {
            grant(grantNow);
        }
    }

    void finish() {
        lock.lock();
        try {
            eof = true;
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    void fail(Throwable cause) {
        lock.lock();
        try {
            if (!eof && failure == null) {
                failure = cause;
            }
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void grant(int n) {
        lock.lock();
        try {
            credit += n;
        } finally {
            lock.unlock();
        }
        granter.grant(n);
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : Byte.toUnsignedInt(one[0]);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        int n;
        int grantNow = 0;
        lock.lock();
        try {
            while (size == 0 && !eof && failure == null && !discarding) {
                readable.await();
            }
            if (size == 0) {
                if (failure != null) {
                    throw new IOException("The " + name + " stream failed: " + failure.getMessage(), failure);
                }
                return -1;
            }
            n = Math.min(len, size);
            int first = Math.min(n, ring.length - head);
            System.arraycopy(ring, head, b, off, first);
            System.arraycopy(ring, 0, b, off + first, n - first);
            head = (head + n) % ring.length;
            size -= n;
            consumed += n;
            if (consumed >= grantBatch || (size == 0 && consumed > 0)) {
                grantNow = consumed;
                consumed = 0;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("Interrupted while reading " + name);
        } finally {
            lock.unlock();
        }
        if (grantNow > 0) {
            grant(grantNow);
        }
        return n;
    }

    @Override
    public int available() {
        lock.lock();
        try {
            return size;
        } finally {
            lock.unlock();
        }
    }

    /** Stops buffering: what is buffered and what still comes is discarded, and granted back. */
    @Override
    public void close() {
        int grantNow;
        lock.lock();
        try {
            if (discarding) {
                return;
            }
            discarding = true;
            grantNow = size + consumed;
            size = 0;
            consumed = 0;
            readable.signalAll();
        } finally {
            lock.unlock();
        }
        if (grantNow > 0) {
            grant(grantNow);
        }
    }
}
