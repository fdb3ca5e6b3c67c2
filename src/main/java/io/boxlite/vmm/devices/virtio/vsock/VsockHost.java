package io.boxlite.vmm.devices.virtio.vsock;

import io.boxlite.InvalidArgumentException;
import io.boxlite.vmm.devices.virtio.WakeSignal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The host end of a virtio-vsock device: the connection table and the API through which host
 * code talks to the guest. Guest-initiated connections arrive at {@link #listen} handlers, each
 * run on its own virtual thread; {@link #connect} opens a connection to a guest port. Both
 * yield {@link VsockConnection}s with blocking streams.
 *
 * <p>The state machine (virtio 1.x §5.10.6): REQUEST → RESPONSE opens, RW carries data,
 * CREDIT_UPDATE/CREDIT_REQUEST move credit, SHUTDOWN half-closes, RST ends. A packet for an
 * unknown connection, to a port without a listener, or that breaks the rules (data beyond
 * credit, RESPONSE on an open connection, unknown op) is answered with RST, and only the
 * connection it names is affected. At most {@link #MAX_CONNECTIONS} connections exist at once.
 *
 * {@snippet :
 * VsockDevice dev = new VsockDevice(3);
 * dev.host().listen(9000, conn -> {
 *     try (conn) {
 *         conn.inputStream().transferTo(conn.outputStream());   // echo
 *     } catch (IOException e) {
 *         // the guest went away
 *     }
 * });
 * }
 */
public final class VsockHost implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VsockHost.class.getName());

    /** The host's context id (VMADDR_CID_HOST). */
    public static final long HOST_CID = 2;
    /** How long a closed connection waits for the guest's RST before it is dropped. */
    public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(2);
    /** Default time {@link #connect(int)} waits for the guest's RESPONSE. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    public static final int MAX_CONNECTIONS = 1024;
    private static final int EPHEMERAL_FIRST = 49152;
    private static final int EPHEMERAL_LAST = 65535;

    /** A control packet (no payload) waiting for an rx buffer. */
    private record Control(int op, int flags, int localPort, int peerPort, VsockConnection conn) {
    }

    /** A packet ready for the guest. */
    record Packet(VsockHeader header, byte[] payload) {
        int payloadLength() {
            return payload == null ? 0 : payload.length;
        }
    }

    private final long guestCid;
    private final VsockMetrics metrics;
    private final ConcurrentHashMap<Long, VsockConnection> connections = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, Consumer<VsockConnection>> listeners = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Control> control = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<VsockConnection> ready = new ConcurrentLinkedQueue<>();
    private final WakeSignal pump = new WakeSignal();
    private final ExecutorService tasks = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("boxlite-vsock-", 0).factory());
    private volatile boolean running;
    private int nextPort = EPHEMERAL_FIRST;

    VsockHost(long guestCid, VsockMetrics metrics) {
        this.guestCid = guestCid;
        this.metrics = metrics;
    }

    public long guestCid() {
        return guestCid;
    }

    /** Connections currently in the table (open, opening, or closing). */
    public int connectionCount() {
        return connections.size();
    }

    /**
     * Accepts guest connections to host port {@code port}: each runs {@code handler} on a new
     * virtual thread, which owns the connection and should close it. Closing the returned
     * registration stops accepting; open connections stay.
     *
     * @throws InvalidArgumentException if the port already has a listener
     */
    public AutoCloseable listen(int port, Consumer<VsockConnection> handler) {
        Objects.requireNonNull(handler);
        if (listeners.putIfAbsent(port, handler) != null) {
            throw new InvalidArgumentException("vsock port " + Integer.toUnsignedString(port) + " already has a listener");
        }
        return () -> listeners.remove(port, handler);
    }

    /** {@link #connect(int, Duration)} with {@link #CONNECT_TIMEOUT}. */
    public VsockConnection connect(int guestPort) throws IOException {
        return connect(guestPort, CONNECT_TIMEOUT);
    }

    /**
     * Opens a connection to {@code guestPort} in the guest and waits for its answer.
     *
     * @throws ConnectException       if the guest refuses (no listener: it answers RST) or its driver is not running
     * @throws SocketTimeoutException if the guest does not answer within {@code timeout}
     */
    public VsockConnection connect(int guestPort, Duration timeout) throws IOException {
        if (!running) {
            throw new ConnectException("cannot connect to guest vsock port " + Integer.toUnsignedString(guestPort)
                    + ": the guest's virtio-vsock driver is not running");
        }
        VsockConnection c = register(guestPort);
        queueControl(c, VsockHeader.OP_REQUEST, 0);
        try {
            c.established.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw new ConnectException("guest refused vsock connection to port " + Integer.toUnsignedString(guestPort)
                    + " (" + e.getCause().getMessage() + "); is a guest process listening there?");
        } catch (TimeoutException e) {
            forget(c, true);
            throw new SocketTimeoutException("guest did not answer a vsock connection to port "
                    + Integer.toUnsignedString(guestPort) + " within " + timeout);
        } catch (InterruptedException e) {
            forget(c, true);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted connecting to guest vsock port " + Integer.toUnsignedString(guestPort));
        }
        if (!c.isOpen()) {
            throw new ConnectException("vsock connection to guest port " + Integer.toUnsignedString(guestPort) + " ended while opening");
        }
        return c;
    }

    private synchronized VsockConnection register(int guestPort) throws IOException {
        if (connections.size() >= MAX_CONNECTIONS) {
            throw new ConnectException("too many vsock connections (" + MAX_CONNECTIONS + "); close some first");
        }
        for (int i = 0; i <= EPHEMERAL_LAST - EPHEMERAL_FIRST; i++) {
            int port = nextPort;
            nextPort = port == EPHEMERAL_LAST ? EPHEMERAL_FIRST : port + 1;
            if (listeners.containsKey(port) || connections.containsKey(key(port, guestPort))) {
                continue;
            }
            VsockConnection c = new VsockConnection(this, port, guestPort, guestCid);
            connections.put(c.key(), c);
            return c;
        }
        throw new ConnectException("no free host vsock port for guest port " + Integer.toUnsignedString(guestPort));
    }

    // ---- device side ----

    static long key(int localPort, int peerPort) {
        return Integer.toUnsignedLong(localPort) << 32 | Integer.toUnsignedLong(peerPort);
    }

    WakeSignal pumpSignal() {
        return pump;
    }

    void start() {
        running = true;
    }

    /** The device was reset or the host closed: every connection is reset. */
    void stop(String why) {
        running = false;
        for (VsockConnection c : connections.values()) {
            connections.remove(c.key(), c);
            c.terminate(why);
        }
        control.clear();
        ready.clear();
    }

    boolean hasOutgoing() {
        return !control.isEmpty() || !ready.isEmpty();
    }

    /** The next packet for the guest with at most {@code maxPayload} bytes of data, or null. */
    Packet nextPacket(int maxPayload) {
        Control c = control.poll();
        if (c != null) {
            int fwd = c.conn() == null ? 0 : c.conn().advertiseFwdCnt();
            int alloc = c.conn() == null ? 0 : VsockConnection.RECEIVE_BUFFER;
            return new Packet(header(c.localPort(), c.peerPort(), 0, c.op(), c.flags(), alloc, fwd), null);
        }
        for (VsockConnection conn = ready.poll(); conn != null; conn = ready.poll()) {
            conn.inReadyQueue.set(false);
            VsockConnection.Outgoing o = conn.takeOutgoing(maxPayload);
            if (o == null) {
                continue;
            }
            if (conn.sendable()) {
                markReady(conn);
            }
            int len = o.payload() == null ? 0 : o.payload().length;
            if (len > 0) {
                metrics.bytesToGuest.add(len);
            }
            VsockHeader h = header(conn.localPort(), conn.peerPort(), len, o.op(), o.flags(),
                    VsockConnection.RECEIVE_BUFFER, conn.advertiseFwdCnt());
            return new Packet(h, o.payload());
        }
        return null;
    }

    private VsockHeader header(int localPort, int peerPort, int len, int op, int flags, int bufAlloc, int fwd) {
        return new VsockHeader(HOST_CID, guestCid, localPort, peerPort, len, VsockHeader.TYPE_STREAM, op, flags, bufAlloc, fwd);
    }

    /** A validated packet from the guest; {@code payload} is the copied data of an RW packet. */
    void onPacket(VsockHeader h, byte[] payload) {
        long key = key(h.dstPort(), h.srcPort());
        VsockConnection conn = connections.get(key);
        if (conn != null && h.op() != VsockHeader.OP_REQUEST && conn.updatePeerCredit(h.bufAlloc(), h.fwdCnt())) {
            markReady(conn);
        }
        switch (h.op()) {
            case VsockHeader.OP_REQUEST -> onRequest(h, conn);
            case VsockHeader.OP_RESPONSE -> {
                if (conn == null) {
                    rst(h);
                } else if (conn.established.isDone()) {
                    reset(conn, "guest sent RESPONSE on an open connection");
                } else {
                    conn.establish(h.bufAlloc(), h.fwdCnt());
                }
            }
            case VsockHeader.OP_RST -> {
                if (conn != null && connections.remove(key, conn)) {
                    boolean opening = !conn.established.isDone();
                    conn.terminate(opening ? "guest answered RST" : conn.closedLocally() ? null : "connection reset by the guest");
                }
            }
            case VsockHeader.OP_SHUTDOWN -> {
                if (conn == null) {
                    rst(h);
                } else if (conn.peerShutdown(h.flags())) {
                    // both directions shut: answer RST, as Linux does, so the guest socket is released
                    forget(conn, true);
                }
            }
            case VsockHeader.OP_RW -> onData(h, conn, payload);
            case VsockHeader.OP_CREDIT_UPDATE -> {
                if (conn == null) {
                    rst(h);
                }
            }
            case VsockHeader.OP_CREDIT_REQUEST -> {
                if (conn == null) {
                    rst(h);
                } else {
                    queueControl(conn, VsockHeader.OP_CREDIT_UPDATE, 0);
                }
            }
            default -> reject(h, "unknown op " + h.op());
        }
    }

    private void onRequest(VsockHeader h, VsockConnection existing) {
        if (existing != null) {
            reset(existing, "guest sent REQUEST for a connection that exists");
            return;
        }
        Consumer<VsockConnection> handler = listeners.get(h.dstPort());
        if (handler == null || !running) {
            LOG.log(Level.DEBUG, "vsock: guest connects to host port {0} without a listener; RST", Integer.toUnsignedString(h.dstPort()));
            rst(h);
            return;
        }
        if (connections.size() >= MAX_CONNECTIONS) {
            LOG.log(Level.WARNING, "vsock: {0} connections open; refusing guest port {1}", MAX_CONNECTIONS, Integer.toUnsignedString(h.srcPort()));
            rst(h);
            return;
        }
        VsockConnection c = new VsockConnection(this, h.dstPort(), h.srcPort(), guestCid);
        c.establish(h.bufAlloc(), h.fwdCnt());
        connections.put(c.key(), c);
        metrics.connectionsOpened.increment();
        queueControl(c, VsockHeader.OP_RESPONSE, 0);
        tasks.execute(() -> {
            try {
                handler.accept(c);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "vsock: handler for host port " + Integer.toUnsignedString(c.localPort()) + " failed; closing", e);
                c.close();
            }
        });
    }

    private void onData(VsockHeader h, VsockConnection conn, byte[] payload) {
        if (conn == null) {
            rst(h);
            return;
        }
        if (!conn.established.isDone() || conn.peerSendShut()) {
            reset(conn, "guest sent data on a connection not open for it");
            return;
        }
        if (!conn.receive(payload)) {
            reset(conn, "guest sent more than its credit allows");
            return;
        }
        metrics.bytesFromGuest.add(payload.length);
    }

    /** A packet whose header broke the rules: reset the connection it names, or answer RST. */
    void reject(VsockHeader h, String why) {
        metrics.malformedPackets.increment();
        LOG.log(Level.DEBUG, "vsock: malformed packet ({0}): {1}", why, h);
        VsockConnection conn = connections.get(key(h.dstPort(), h.srcPort()));
        if (conn != null) {
            reset(conn, "guest sent a malformed packet: " + why);
        } else {
            rst(h);
        }
    }

    private void reset(VsockConnection conn, String why) {
        LOG.log(Level.DEBUG, "vsock: resetting {0}: {1}", conn, why);
        if (connections.remove(conn.key(), conn)) {
            conn.terminate(why);
            queueRst(conn.localPort(), conn.peerPort());
        }
    }

    /** RST in answer to {@code h} (never to an RST). */
    private void rst(VsockHeader h) {
        if (h.op() != VsockHeader.OP_RST) {
            queueRst(h.dstPort(), h.srcPort());
        }
    }

    private void queueRst(int localPort, int peerPort) {
        metrics.resetsSent.increment();
        control.add(new Control(VsockHeader.OP_RST, 0, localPort, peerPort, null));
        pump.signal();
    }

    void queueControl(VsockConnection conn, int op, int flags) {
        control.add(new Control(op, flags, conn.localPort(), conn.peerPort(), conn));
        pump.signal();
    }

    void markReady(VsockConnection conn) {
        if (conn.inReadyQueue.compareAndSet(false, true)) {
            ready.add(conn);
            pump.signal();
        }
    }

    /** After a local close: drop the connection if the guest has not sent RST within the timeout. */
    void closeLater(VsockConnection conn) {
        try {
            tasks.execute(() -> {
                try {
                    Thread.sleep(CLOSE_TIMEOUT);
                } catch (InterruptedException e) {
                    return;
                }
                forget(conn, true);
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            forget(conn, false); // host closed
        }
    }

    /** Removes the connection (if still there), optionally telling the guest with RST. */
    void forget(VsockConnection conn, boolean sendRst) {
        if (connections.remove(conn.key(), conn)) {
            conn.terminate(null);
            if (sendRst && running) {
                queueRst(conn.localPort(), conn.peerPort());
            }
        }
    }

    /** Resets every connection and stops the handler threads' executor. */
    @Override
    public void close() {
        stop("vsock device closed");
        tasks.shutdownNow();
    }
}
