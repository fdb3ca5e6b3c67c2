package io.boxlite.vmm.transport.vhostuser;

import io.boxlite.BoxliteException;
import io.boxlite.sys.Epoll;
import io.boxlite.sys.EventFd;
import io.boxlite.sys.Fd;
import io.boxlite.sys.NativeException;
import io.boxlite.sys.UnixSocket;
import io.boxlite.vmm.devices.virtio.Interrupt;
import io.boxlite.vmm.devices.virtio.VirtioDevice;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.transport.vhostuser.Message.ProtocolException;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serves one {@link VirtioDevice} to a vhost-user front-end (QEMU) on a Unix socket: the
 * device's queues live in the front-end's guest RAM, mapped from the descriptors it sends;
 * kicks arrive on eventfds and interrupts leave on eventfds, so the data path never touches
 * the socket.
 *
 * <p>Threads (docs/threading.md): one platform thread accepts and reads the socket, one
 * platform thread waits on the kick eventfds in epoll and hands each kick to the device (whose
 * workers are virtual threads). When the front-end goes away, the device is reset, every
 * mapping and descriptor is released, and the {@link Listener} hears why; the back end then
 * waits for a new front-end. A malformed message ends the session the same way; it never
 * takes down the process.
 */
public final class VhostUserBackend implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VhostUserBackend.class.getName());
    private static final long WAKE = -1;
    private static final long PROTOCOL_FEATURES = (1L << Request.PF_REPLY_ACK) | (1L << Request.PF_CONFIG)
            | (1L << Request.PF_RESET_DEVICE);

    /** Hears about a front-end leaving; a box uses it to mark itself failed. */
    @FunctionalInterface
    public interface Listener {
        void sessionEnded(String reason);
    }

    private final Path socketPath;
    private final UnixSocket listener;
    private final VirtioDevice device;
    private final Listener events;
    private final String name;
    private final Thread acceptor;
    private volatile boolean closing;
    private volatile Session current;

    private VhostUserBackend(Path socketPath, UnixSocket listener, VirtioDevice device, Listener events, String name) {
        this.socketPath = socketPath;
        this.listener = listener;
        this.device = device;
        this.events = events;
        this.name = name;
        this.acceptor = Thread.ofPlatform().name("boxlite-vhost-" + name).daemon().unstarted(this::acceptLoop);
    }

    /**
     * Listens on {@code socketPath} (which must not exist; keep it short, see
     * {@link io.boxlite.home.SocketPaths}) and serves {@code device} to each front-end that
     * connects, one at a time.
     */
    public static VhostUserBackend listen(Path socketPath, VirtioDevice device, String name, Listener events) {
        UnixSocket l = UnixSocket.listen(socketPath, 1);
        VhostUserBackend b = new VhostUserBackend(socketPath, l, Objects.requireNonNull(device), events, name);
        b.acceptor.start();
        return b;
    }

    public Path socketPath() {
        return socketPath;
    }

    private void acceptLoop() {
        while (!closing) {
            UnixSocket conn;
            try {
                conn = listener.accept();
            } catch (NativeException e) {
                if (!closing) {
                    LOG.log(Level.WARNING, "vhost-user " + name + ": accept failed: " + e.getMessage());
                }
                return;
            }
            Session s = new Session(conn);
            current = s;
            String reason = s.run();
            current = null;
            if (!closing) {
                LOG.log(Level.INFO, "vhost-user {0}: front-end session ended: {1}", name, reason);
                events.sessionEnded(reason);
            }
        }
    }

    /** Stops serving: ends the session, removes the socket, releases everything. Idempotent. */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        try {
            io.boxlite.sys.Libc.shutdown(listener.fd(), io.boxlite.sys.gen.BoxliteSys.SHUT_RDWR()); // wakes accept()
        } catch (RuntimeException ignored) {
            // already closed
        }
        Session s = current;
        if (s != null) {
            s.abort();
        }
        try {
            acceptor.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        listener.close();
        try {
            Files.deleteIfExists(socketPath);
        } catch (java.io.IOException e) {
            LOG.log(Level.WARNING, "Cannot remove " + socketPath + ": " + e.getMessage());
        }
    }

    /** One front-end connection: its memory, its rings, its eventfds. */
    private final class Session implements Interrupt {
        private final UnixSocket conn;
        private final ReentrantLock lock = new ReentrantLock();
        private final List<Virtqueue> queues = new ArrayList<>();
        private final EventFd[] kick;
        private final EventFd[] call;
        private final EventFd[] err;
        private final boolean[] addressed;
        private final boolean[] enabled;
        private final int[] stoppedBase;
        private final Epoll epoll = Epoll.create(16);
        private final EventFd wake = EventFd.create(true);
        private final Thread kicker;
        private MemoryTable memory;
        private long features;
        private long protocolFeatures;
        private volatile boolean activated;
        private volatile boolean ending;

        Session(UnixSocket conn) {
            this.conn = conn;
            int n = device.queueMaxSizes().size();
            // The front-end picks ring sizes (QEMU's rng uses 1024 whatever the device prefers):
            // vhost-user has no QueueNumMax, so any size the ring format allows is accepted.
            for (int i = 0; i < device.queueMaxSizes().size(); i++) {
                queues.add(new Virtqueue(Virtqueue.MAX_SIZE));
            }
            kick = new EventFd[n];
            call = new EventFd[n];
            err = new EventFd[n];
            addressed = new boolean[n];
            enabled = new boolean[n];
            stoppedBase = new int[n];
            java.util.Arrays.fill(stoppedBase, -1);
            epoll.add(wake.fd(), Epoll.IN, WAKE);
            kicker = Thread.ofPlatform().name("boxlite-vhost-" + name + "-kick").daemon().start(this::kickLoop);
        }

        /** Serves until the front-end leaves or misbehaves; returns why it ended. */
        String run() {
            String reason;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(Message.HEADER + Message.MAX_PAYLOAD);
                while (true) {
                    Message m = read(buf);
                    if (m == null) {
                        reason = "the front-end closed the connection";
                        break;
                    }
                    handle(m);
                }
            } catch (ProtocolException e) {
                reason = "protocol error: " + e.getMessage();
                LOG.log(Level.WARNING, "vhost-user " + name + ": " + reason);
            } catch (BoxliteException e) {
                reason = ending ? "the back end is closing" : e.getMessage();
            } finally {
                teardown();
            }
            return reason;
        }

        void abort() {
            ending = true;
            try {
                io.boxlite.sys.Libc.shutdown(conn.fd(), io.boxlite.sys.gen.BoxliteSys.SHUT_RDWR());
            } catch (RuntimeException ignored) {
                // the session is already gone
            }
        }

        private Message read(MemorySegment buf) throws ProtocolException {
            List<Fd> fds = new ArrayList<>();
            try {
                if (!readFully(buf.asSlice(0, Message.HEADER), fds, true)) {
                    return null;
                }
                ByteBuffer h = buf.asSlice(0, Message.HEADER).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                int request = h.getInt();
                int flags = h.getInt();
                int size = h.getInt();
                if ((flags & 0x3) != Request.VERSION) {
                    throw new ProtocolException("message version " + (flags & 0x3) + ", expected " + Request.VERSION);
                }
                if (size < 0 || size > Message.MAX_PAYLOAD) {
                    throw new ProtocolException(Request.name(request) + " payload of " + Integer.toUnsignedString(size)
                            + " bytes (at most " + Message.MAX_PAYLOAD + ")");
                }
                MemorySegment body = buf.asSlice(Message.HEADER, size);
                if (size > 0 && !readFully(body, fds, false)) {
                    throw new ProtocolException("the front-end closed the connection inside a message");
                }
                Message m = new Message(request, flags, body.toArray(ValueLayout.JAVA_BYTE), List.copyOf(fds));
                fds.clear();
                return m;
            } finally {
                fds.forEach(Fd::close); // descriptors of a message we refused
            }
        }

        private boolean readFully(MemorySegment target, List<Fd> fds, boolean eofAllowed) throws ProtocolException {
            long got = 0;
            while (got < target.byteSize()) {
                try (UnixSocket.Received r = conn.receive(target.asSlice(got))) {
                    if (r.endOfStream()) {
                        if (got == 0 && eofAllowed) {
                            return false;
                        }
                        throw new ProtocolException("the front-end closed the connection inside a message");
                    }
                    for (Fd f : r.fds()) {
                        fds.add(Fd.adopt(f.release()));
                    }
                    got += r.bytes();
                }
            }
            return true;
        }

        private void reply(Message m, byte[] payload) {
            conn.send(Message.encode(m.request(), Request.VERSION | Request.FLAG_REPLY, payload));
        }

        private void handle(Message m) throws ProtocolException {
            LOG.log(Level.TRACE, () -> "vhost-user " + name + ": " + Request.name(m.request()) + " "
                    + java.util.HexFormat.of().formatHex(m.payload(), 0, Math.min(m.payload().length, 48))
                    + (m.fds().isEmpty() ? "" : " +" + m.fds().size() + " fd"));
            lock.lock();
            try {
                boolean replied = dispatch(m);
                if (!replied && m.needsReply() && (protocolFeatures & (1L << Request.PF_REPLY_ACK)) != 0) {
                    reply(m, Message.u64(0));
                }
            } catch (ProtocolException e) {
                if (m.needsReply() && (protocolFeatures & (1L << Request.PF_REPLY_ACK)) != 0) {
                    reply(m, Message.u64(1));
                }
                throw e;
            } finally {
                lock.unlock();
                m.fds().stream().filter(Fd::isOpen).forEach(Fd::close);
            }
        }

        /** Applies one request; returns whether it already sent its reply. */
        private boolean dispatch(Message m) throws ProtocolException {
            switch (m.request()) {
                case Request.GET_FEATURES -> {
                    reply(m, Message.u64(device.availFeatures() | Request.F_PROTOCOL_FEATURES));
                    return true;
                }
                case Request.SET_FEATURES -> {
                    features = m.body(8).getLong();
                    device.ackFeatures(features & ~Request.F_PROTOCOL_FEATURES);
                }
                case Request.GET_PROTOCOL_FEATURES -> {
                    reply(m, Message.u64(offeredProtocolFeatures()));
                    return true;
                }
                case Request.SET_PROTOCOL_FEATURES -> protocolFeatures = m.body(8).getLong() & offeredProtocolFeatures();
                case Request.SET_OWNER -> { }
                case Request.RESET_OWNER, Request.RESET_DEVICE -> deactivate();
                case Request.GET_QUEUE_NUM -> {
                    reply(m, Message.u64(queues.size()));
                    return true;
                }
                case Request.SET_MEM_TABLE -> {
                    if (activated) {
                        throw new ProtocolException("SET_MEM_TABLE while the device is running");
                    }
                    MemoryTable table = MemoryTable.map(m);
                    if (memory != null) {
                        memory.close();
                    }
                    memory = table;
                }
                case Request.SET_VRING_NUM -> {
                    ByteBuffer b = m.body(8);
                    Virtqueue q = queue(b.getInt());
                    int num = b.getInt();
                    if (num < 1 || num > q.maxSize() || Integer.bitCount(num) != 1) { // spec: power of two
                        throw new ProtocolException("ring size " + num + " (a power of two up to " + q.maxSize() + ")");
                    }
                    q.setSize(num);
                }
                case Request.SET_VRING_BASE -> {
                    ByteBuffer b = m.body(8);
                    Virtqueue q = queue(b.getInt());
                    int base = b.getInt();
                    if (base < 0 || base > 0xffff) {
                        throw new ProtocolException("ring base " + base);
                    }
                    q.setNextAvail(base);
                    q.setNextUsed(base);
                }
                case Request.SET_VRING_ADDR -> {
                    ByteBuffer b = m.body(40);
                    int index = b.getInt();
                    Virtqueue q = queue(index);
                    b.getInt(); // flags: logging is not offered
                    if (memory == null) {
                        throw new ProtocolException("SET_VRING_ADDR before SET_MEM_TABLE");
                    }
                    q.setDescTable(memory.toGuestPhysical(b.getLong(), "descriptor table"));
                    q.setUsedRing(memory.toGuestPhysical(b.getLong(), "used ring"));
                    q.setAvailRing(memory.toGuestPhysical(b.getLong(), "available ring"));
                    addressed[index] = true;
                }
                case Request.GET_VRING_BASE -> {
                    // The front-end stops the device ring by ring; the first request stops them all.
                    ByteBuffer b = m.body(8);
                    int index = b.getInt();
                    queue(index);
                    if (activated) {
                        for (int i = 0; i < queues.size(); i++) {
                            stoppedBase[i] = queues.get(i).nextAvail();
                        }
                        activated = false;
                        device.reset();
                    }
                    int base = stoppedBase[index] >= 0 ? stoppedBase[index] : queues.get(index).nextAvail();
                    stoppedBase[index] = -1;
                    queues.get(index).reset();
                    addressed[index] = false;
                    enabled[index] = false;
                    stopRing(index);
                    ByteBuffer r = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(index).putInt(base);
                    reply(m, r.array());
                    return true;
                }
                case Request.SET_VRING_KICK -> {
                    int index = ringFd(m);
                    if (kick[index] != null) {
                        epoll.remove(kick[index].fd());
                        kick[index].close();
                    }
                    kick[index] = EventFd.adopt(Fd.adopt(m.onlyFd().release()));
                    epoll.add(kick[index].fd(), Epoll.IN, index);
                    maybeActivate();
                }
                case Request.SET_VRING_CALL -> {
                    int index = ringFd(m);
                    if (call[index] != null) {
                        call[index].close();
                    }
                    call[index] = EventFd.adopt(Fd.adopt(m.onlyFd().release()));
                }
                case Request.SET_VRING_ERR -> {
                    int index = ringFd(m);
                    if (err[index] != null) {
                        err[index].close();
                    }
                    err[index] = EventFd.adopt(Fd.adopt(m.onlyFd().release()));
                }
                case Request.SET_VRING_ENABLE -> {
                    ByteBuffer b = m.body(8);
                    int index = b.getInt();
                    queue(index);
                    enabled[index] = b.getInt() != 0;
                    maybeActivate();
                }
                case Request.GET_CONFIG -> {
                    ByteBuffer b = m.body(12);
                    int offset = b.getInt();
                    int size = b.getInt();
                    if (offset < 0 || size < 0 || size > 256 || m.payload().length != 12 + size) {
                        throw new ProtocolException("GET_CONFIG of " + size + " bytes at " + offset);
                    }
                    byte[] data = new byte[size];
                    device.readConfig(offset, data);
                    ByteBuffer r = ByteBuffer.allocate(12 + size).order(ByteOrder.LITTLE_ENDIAN);
                    r.putInt(offset).putInt(size).putInt(b.getInt()).put(data);
                    reply(m, r.array());
                    return true;
                }
                case Request.SET_CONFIG -> {
                    ByteBuffer b = m.body(12);
                    int offset = b.getInt();
                    int size = b.getInt();
                    b.getInt();
                    if (offset < 0 || size < 0 || m.payload().length != 12 + size) {
                        throw new ProtocolException("SET_CONFIG of " + size + " bytes at " + offset);
                    }
                    byte[] data = new byte[size];
                    b.get(data);
                    device.writeConfig(offset, data);
                }
                default -> {
                    LOG.log(Level.WARNING, "vhost-user {0}: unsupported {1}, ignored", name, Request.name(m.request()));
                    if (m.needsReply() && (protocolFeatures & (1L << Request.PF_REPLY_ACK)) != 0) {
                        reply(m, Message.u64(1));
                        return true;
                    }
                }
            }
            return false;
        }

        /** CONFIG only for devices that have a config space: QEMU warns about it otherwise. */
        private long offeredProtocolFeatures() {
            return device.configSize() > 0 ? PROTOCOL_FEATURES : PROTOCOL_FEATURES & ~(1L << Request.PF_CONFIG);
        }

        private Virtqueue queue(int index) throws ProtocolException {
            if (index < 0 || index >= queues.size()) {
                throw new ProtocolException("ring " + index + " does not exist (the device has " + queues.size() + ")");
            }
            return queues.get(index);
        }

        /** The ring index of a SET_VRING_KICK/CALL/ERR payload; polling mode is not supported. */
        private int ringFd(Message m) throws ProtocolException {
            long v = m.body(8).getLong();
            int index = (int) (v & 0xff);
            queue(index);
            if ((v & 0x100) != 0) {
                throw new ProtocolException(Request.name(m.request()) + " without a descriptor (polling) is not supported");
            }
            return index;
        }

        private boolean started(int i) {
            boolean needEnable = (features & Request.F_PROTOCOL_FEATURES) != 0;
            return addressed[i] && kick[i] != null && (enabled[i] || !needEnable);
        }

        /** Activates the device once every ring the front-end set up is started. */
        private void maybeActivate() throws ProtocolException {
            if (activated || memory == null) {
                return;
            }
            boolean any = false;
            for (int i = 0; i < queues.size(); i++) {
                if (addressed[i]) {
                    if (!started(i)) {
                        return;
                    }
                    any = true;
                }
            }
            if (!any) {
                return;
            }
            try {
                for (int i = 0; i < queues.size(); i++) {
                    if (addressed[i]) {
                        queues.get(i).setReady(true);
                        // The ring format is what the guest negotiated with the front-end, which
                        // SET_FEATURES reports, whatever subset the device itself understood.
                        queues.get(i).activate(memory.memory(), features);
                    }
                }
                device.activate(memory.memory(), List.copyOf(queues), this);
            } catch (BoxliteException e) {
                queues.forEach(Virtqueue::reset);
                throw new ProtocolException("cannot start the device: " + e.getMessage());
            }
            activated = true;
            for (int i = 0; i < queues.size(); i++) {
                if (addressed[i]) {
                    device.queueNotify(i); // kicks may have come before the rings were complete
                }
            }
        }

        /** Stops the device and forgets every ring (RESET_OWNER, RESET_DEVICE, end of session). */
        private void deactivate() {
            if (activated) {
                activated = false;
                device.reset();
            }
            for (int i = 0; i < queues.size(); i++) {
                queues.get(i).reset();
                addressed[i] = false;
                enabled[i] = false;
                stoppedBase[i] = -1;
                stopRing(i);
            }
        }

        private void stopRing(int i) {
            if (kick[i] != null) {
                epoll.remove(kick[i].fd());
                kick[i].close();
                kick[i] = null;
            }
        }

        private void kickLoop() {
            try {
                while (!ending) {
                    epoll.await(-1, e -> {
                        if (e.token() == WAKE) {
                            return;
                        }
                        int q = Math.toIntExact(e.token());
                        try {
                            EventFd k;
                            lock.lock();
                            try {
                                k = kick[q];
                            } finally {
                                lock.unlock();
                            }
                            if (k != null && k.read().isPresent() && activated) {
                                device.queueNotify(q);
                            }
                        } catch (RuntimeException raced) {
                            // the ring was stopped and its eventfd closed while this event was pending
                            LOG.log(Level.DEBUG, "vhost-user {0}: kick on ring {1} dropped: {2}", name, q, raced.getMessage());
                        }
                    });
                }
            } catch (RuntimeException e) {
                if (!ending) {
                    LOG.log(Level.WARNING, "vhost-user " + name + ": kick loop failed: " + e);
                }
            }
        }

        private void teardown() {
            ending = true;
            lock.lock();
            try {
                deactivate();
                wake.signal();
            } finally {
                lock.unlock();
            }
            try {
                kicker.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            lock.lock();
            try {
                for (int i = 0; i < queues.size(); i++) {
                    for (EventFd[] fds : List.of(kick, call, err)) {
                        if (fds[i] != null) {
                            fds[i].close();
                            fds[i] = null;
                        }
                    }
                }
                if (memory != null) {
                    memory.close();
                    memory = null;
                }
                epoll.close();
                wake.close();
                conn.close();
            } finally {
                lock.unlock();
            }
        }

        // --- Interrupt: how the device signals the front-end -----------------------------------

        @Override
        public void signalUsed(int queue) {
            EventFd c = queue >= 0 && queue < call.length ? call[queue] : null;
            if (c != null) {
                try {
                    c.signal();
                } catch (RuntimeException e) {
                    LOG.log(Level.DEBUG, "vhost-user {0}: call eventfd of ring {1} failed: {2}", name, queue, e.getMessage());
                }
            }
        }

        @Override
        public void signalConfigChange() {
            // Would need the back-end request channel (SET_BACKEND_REQ_FD), which is not offered.
            LOG.log(Level.DEBUG, "vhost-user {0}: config change not signalled (no back-end channel)", name);
        }

        @Override
        public void needsReset(int queue, String reason) {
            LOG.log(Level.WARNING, "vhost-user {0}: ring {1} needs a reset: {2}", name, queue, reason);
            EventFd e = queue >= 0 && queue < err.length ? err[queue] : null;
            if (e != null) {
                e.signal();
            }
        }
    }
}
