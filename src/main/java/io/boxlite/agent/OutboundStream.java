package io.boxlite.agent;

import io.boxlite.agent.protocol.FrameType;
import io.boxlite.agent.protocol.Limits;
import io.boxlite.agent.protocol.StreamId;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Bytes to the agent's stdin stream (a command's stdin, or a copy-in archive): writes block
 * while the agent has granted no window, so a command that does not read its stdin holds the
 * writer back instead of filling memory. {@link #close()} sends EOF.
 */
final class OutboundStream extends OutputStream {
    private final AgentChannel channel;
    private final String name;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition credited = lock.newCondition();
    private final ReentrantLock writeOrder = new ReentrantLock();
    private long credit;
    private boolean closed;
    private String ended; // why writing is over, if it is

    OutboundStream(AgentChannel channel, String name, int window) {
        this.channel = channel;
        this.name = name;
        this.credit = window;
    }

    /** The pump received a WINDOW for stdin. */
    void grant(long n) {
        lock.lock();
        try {
            if (credit + n > Limits.MAX_WINDOW) {
                throw new io.boxlite.agent.protocol.AgentProtocolException(
                        "The guest agent granted a " + name + " window beyond 1 GiB");
            }
            credit += n;
            credited.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Writing can no longer succeed (the command exited, or the channel failed). */
    void end(String why) {
        lock.lock();
        try {
            if (ended == null) {
                ended = why;
            }
            credited.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        writeOrder.lock();
        try {
            while (len > 0) {
                int n = take(len);
                channel.send(FrameType.DATA, StreamId.STDIN, b, off, n);
                off += n;
                len -= n;
            }
        } catch (IOException e) {
            end("the channel failed: " + e.getMessage());
            throw e;
        } finally {
            writeOrder.unlock();
        }
    }

    private int take(int want) throws IOException {
        lock.lock();
        try {
            while (credit == 0 && ended == null && !closed) {
                credited.await();
            }
            if (closed) {
                throw new IOException("The " + name + " stream is closed");
            }
            if (ended != null) {
                throw new IOException("Cannot write " + name + ": " + ended);
            }
            int n = (int) Math.min(Math.min(want, credit), Limits.DATA_CHUNK);
            credit -= n;
            return n;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("Interrupted while waiting to write " + name);
        } finally {
            lock.unlock();
        }
    }

    /** Sends EOF once; later writes fail. Quiet if the command already exited. */
    @Override
    public void close() throws IOException {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            credited.signalAll(); // a writer blocked on the window gives up
            if (ended != null) {
                return;
            }
        } finally {
            lock.unlock();
        }
        writeOrder.lock();
        try {
            channel.send(FrameType.EOF, StreamId.STDIN, new byte[0]);
        } catch (IOException gone) {
            // The agent closes the channel right after EXIT; if that beat the EXIT frame to
            // this thread, the command is over and EOF has nobody to tell.
            System.getLogger(OutboundStream.class.getName()).log(System.Logger.Level.DEBUG,
                    "stdin EOF not sent, the channel is gone: {0}", gone.toString());
        } finally {
            writeOrder.unlock();
        }
    }
}
