package io.boxlite.vmm.devices.virtio.vsock;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One host↔guest vsock stream connection, seen from the host: an {@link InputStream} of what the
 * guest sends and an {@link OutputStream} to the guest. Blocking calls park the calling
 * (virtual) thread: a read waits for data, a write waits while the guest has no credit and the
 * local send buffer is full. Both streams are safe to use from two different threads; each
 * stream itself is meant for one thread at a time.
 *
 * <p>Flow control follows the virtio-vsock credit rules both ways: at most
 * {@code peer buf_alloc - (tx_cnt - peer fwd_cnt)} bytes are ever sent to the guest, and this side
 * advertises a {@value #RECEIVE_BUFFER}-byte buffer and its forward count, sending a
 * CREDIT_UPDATE as the application consumes data. A guest that sends beyond its credit is reset.
 *
 * <p>{@link #shutdownOutput()} sends SHUTDOWN(SEND) once queued data is out; {@link #close()}
 * sends SHUTDOWN(RCV|SEND) after queued data and forgets the connection when the guest answers
 * with RST (or after {@link VsockHost#CLOSE_TIMEOUT}). After a reset by the guest, buffered input
 * can still be read; then reads and writes fail with {@link IOException}.
 *
 * {@snippet :
 * try (VsockConnection c = host.connect(1024)) {
 *     c.outputStream().write("ping\n".getBytes());
 *     byte[] reply = c.inputStream().readNBytes(5);
 * }
 * }
 */
public final class VsockConnection implements AutoCloseable {
    /** The receive buffer this side advertises (buf_alloc). */
    public static final int RECEIVE_BUFFER = 256 * 1024;
    /** Bytes the host may queue for the guest before a writer blocks. */
    public static final int SEND_BUFFER = 64 * 1024;
    private static final int CREDIT_UPDATE_THRESHOLD = RECEIVE_BUFFER / 4;

    /** What the rx pump sends next for this connection. */
    record Outgoing(int op, int flags, byte[] payload) {
    }

    private final VsockHost host;
    private final int localPort;
    private final int peerPort;
    private final long peerCid;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    final AtomicBoolean inReadyQueue = new AtomicBoolean();
    final CompletableFuture<Void> established = new CompletableFuture<>();

    private boolean open;            // RESPONSE exchanged, no RST yet
    private boolean removed;         // no longer in the host's table
    private String failure;          // why the connection was reset, if it was
    // guest → host
    private final ByteRing rx = new ByteRing(RECEIVE_BUFFER);
    private int fwdCnt;
    private int lastSentFwdCnt;
    private boolean creditUpdateQueued;
    private boolean peerSendShut;
    private boolean inputClosed;
    // host → guest
    private final ByteRing tx = new ByteRing(SEND_BUFFER);
    private int txCnt;
    private int peerBufAlloc;
    private int peerFwdCnt;
    private boolean creditRequested;
    private boolean peerRecvShut;
    private int shutdownWanted;
    private int shutdownSent;

    private final InputStream in = new In();
    private final OutputStream out = new Out();

    VsockConnection(VsockHost host, int localPort, int peerPort, long peerCid) {
        this.host = Objects.requireNonNull(host);
        this.localPort = localPort;
        this.peerPort = peerPort;
        this.peerCid = peerCid;
    }

    /** The host-side port. */
    public int localPort() {
        return localPort;
    }

    /** The guest-side port. */
    public int peerPort() {
        return peerPort;
    }

    /** The guest's context id. */
    public long peerCid() {
        return peerCid;
    }

    public InputStream inputStream() {
        return in;
    }

    public OutputStream outputStream() {
        return out;
    }

    /** Whether the connection is established and has not been reset or fully closed. */
    public boolean isOpen() {
        lock.lock();
        try {
            return open && failure == null && !removed;
        } finally {
            lock.unlock();
        }
    }

    /** No more data to the guest: SHUTDOWN(SEND) goes out after the data already written. */
    public void shutdownOutput() {
        lock.lock();
        try {
            shutdownWanted |= VsockHeader.SHUTDOWN_SEND;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        host.markReady(this);
    }

    /**
     * Closes both directions: unread input is dropped, queued output still goes out, then
     * SHUTDOWN(RCV|SEND). Idempotent; never blocks.
     */
    @Override
    public void close() {
        boolean wasOpen;
        lock.lock();
        try {
            inputClosed = true;
            rx.clear();
            wasOpen = open && !removed && failure == null;
            shutdownWanted = VsockHeader.SHUTDOWN_SEND | VsockHeader.SHUTDOWN_RCV;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (wasOpen) {
            host.markReady(this);
            host.closeLater(this);
        } else {
            host.forget(this, false);
        }
    }

    // ---- called by VsockHost (device side) ----

    long key() {
        return VsockHost.key(localPort, peerPort);
    }

    void establish(int bufAlloc, int fwd) {
        lock.lock();
        try {
            open = true;
            peerBufAlloc = bufAlloc;
            peerFwdCnt = fwd;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        established.complete(null);
    }

    /** Records the guest's credit from any packet; returns whether output may now flow. */
    boolean updatePeerCredit(int bufAlloc, int fwd) {
        lock.lock();
        try {
            peerBufAlloc = bufAlloc;
            peerFwdCnt = fwd;
            if (peerCreditLocked() > 0) {
                creditRequested = false;
            }
            return sendableLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stores stream data from the guest. Returns false if it exceeds the credit this side
     * advertised (the caller resets the connection).
     */
    boolean receive(byte[] data) {
        lock.lock();
        try {
            if (inputClosed) {
                fwdCnt += data.length; // dropped unread, but counted as consumed so credit keeps flowing
                return true;
            }
            if (data.length > rx.free()) {
                return false;
            }
            rx.write(data, 0, data.length);
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Whether this side sent SHUTDOWN(RCV|SEND): an RST from the guest is then the normal end. */
    boolean closedLocally() {
        lock.lock();
        try {
            return shutdownSent == (VsockHeader.SHUTDOWN_SEND | VsockHeader.SHUTDOWN_RCV);
        } finally {
            lock.unlock();
        }
    }

    /** Whether the guest already said it will send nothing more. */
    boolean peerSendShut() {
        lock.lock();
        try {
            return peerSendShut;
        } finally {
            lock.unlock();
        }
    }

    /** The guest's SHUTDOWN; returns true when both directions are now shut. */
    boolean peerShutdown(int flags) {
        lock.lock();
        try {
            peerSendShut |= (flags & VsockHeader.SHUTDOWN_SEND) != 0;
            if ((flags & VsockHeader.SHUTDOWN_RCV) != 0) {
                peerRecvShut = true;
                tx.clear();
            }
            changed.signalAll();
            return peerSendShut && peerRecvShut;
        } finally {
            lock.unlock();
        }
    }

    /** The connection is gone: {@code why} non-null for a reset (streams then fail). */
    void terminate(String why) {
        lock.lock();
        try {
            removed = true;
            if (why != null && failure == null) {
                failure = why;
            }
            peerSendShut = true;
            peerRecvShut = true;
            tx.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (why != null) {
            established.completeExceptionally(new IOException(why));
        } else {
            established.complete(null);
        }
    }

    /** The fwd_cnt to put in a header now; records it as advertised. */
    int advertiseFwdCnt() {
        lock.lock();
        try {
            lastSentFwdCnt = fwdCnt;
            creditUpdateQueued = false;
            return fwdCnt;
        } finally {
            lock.unlock();
        }
    }

    /** The next data, CREDIT_REQUEST or SHUTDOWN to send, or null; payload at most {@code max} bytes. */
    Outgoing takeOutgoing(int max) {
        lock.lock();
        try {
            if (!open || removed) {
                return null;
            }
            if (tx.size() > 0) {
                int credit = peerCreditLocked();
                if (credit == 0) {
                    if (creditRequested) {
                        return null;
                    }
                    creditRequested = true;
                    return new Outgoing(VsockHeader.OP_CREDIT_REQUEST, 0, null);
                }
                byte[] data = new byte[Math.min(Math.min(tx.size(), credit), max)];
                tx.read(data, 0, data.length);
                txCnt += data.length;
                changed.signalAll();
                return new Outgoing(VsockHeader.OP_RW, 0, data);
            }
            if (shutdownWanted != shutdownSent) {
                shutdownSent = shutdownWanted;
                return new Outgoing(VsockHeader.OP_SHUTDOWN, shutdownSent, null);
            }
            return null;
        } finally {
            lock.unlock();
        }
    }

    boolean sendable() {
        lock.lock();
        try {
            return sendableLocked();
        } finally {
            lock.unlock();
        }
    }

    private boolean sendableLocked() {
        if (!open || removed) {
            return false;
        }
        boolean data = tx.size() > 0 && (peerCreditLocked() > 0 || !creditRequested);
        return data || shutdownWanted != shutdownSent;
    }

    /** Bytes the guest can still take: buf_alloc - (tx_cnt - fwd_cnt), never negative even if the guest lies. */
    private int peerCreditLocked() {
        long inFlight = Integer.toUnsignedLong(txCnt - peerFwdCnt);
        long alloc = Integer.toUnsignedLong(peerBufAlloc);
        return inFlight >= alloc ? 0 : (int) Math.min(Integer.MAX_VALUE, alloc - inFlight);
    }

    private final class In extends InputStream {
        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            int n;
            boolean update;
            lock.lock();
            try {
                while (rx.size() == 0) {
                    if (inputClosed) {
                        throw new IOException("vsock connection to guest port " + Integer.toUnsignedString(peerPort) + " is closed");
                    }
                    if (failure != null) {
                        throw new IOException(failure);
                    }
                    if (peerSendShut) {
                        return -1;
                    }
                    awaitChange();
                }
                n = rx.read(b, off, len);
                fwdCnt += n;
                update = !creditUpdateQueued && open && !removed && !peerSendShut
                        && Integer.toUnsignedLong(fwdCnt - lastSentFwdCnt) >= CREDIT_UPDATE_THRESHOLD;
                creditUpdateQueued |= update;
            } finally {
                lock.unlock();
            }
            if (update) {
                host.queueControl(VsockConnection.this, VsockHeader.OP_CREDIT_UPDATE, 0);
            }
            return n;
        }

        @Override
        public int available() {
            lock.lock();
            try {
                return rx.size();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void close() {
            lock.lock();
            try {
                inputClosed = true;
                fwdCnt += rx.size();
                rx.clear();
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private final class Out extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            while (len > 0) {
                int n;
                lock.lock();
                try {
                    while (true) {
                        if ((shutdownWanted & VsockHeader.SHUTDOWN_SEND) != 0) {
                            throw new IOException("vsock connection output is shut down");
                        }
                        if (failure != null) {
                            throw new IOException(failure);
                        }
                        if (peerRecvShut || removed) {
                            throw new IOException("guest closed vsock port " + Integer.toUnsignedString(peerPort) + " for receiving");
                        }
                        if (tx.free() > 0) {
                            break;
                        }
                        awaitChange(); // back-pressure: the guest has not granted credit for what is queued
                    }
                    n = Math.min(len, tx.free());
                    tx.write(b, off, n);
                } finally {
                    lock.unlock();
                }
                host.markReady(VsockConnection.this);
                off += n;
                len -= n;
            }
        }

        @Override
        public void close() {
            shutdownOutput();
        }
    }

    private void awaitChange() throws InterruptedIOException {
        try {
            changed.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting on vsock port " + Integer.toUnsignedString(peerPort));
        }
    }

    @Override
    public String toString() {
        return "VsockConnection[host:" + Integer.toUnsignedString(localPort) + " <-> " + peerCid + ":" + Integer.toUnsignedString(peerPort) + "]";
    }
}
