package io.boxlite.vmm.devices.virtio.vsock;

import io.boxlite.InvalidArgumentException;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.devices.virtio.testing.MockVsockGuest;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.boxlite.vmm.devices.virtio.vsock.VsockHeader.*;
import static org.junit.jupiter.api.Assertions.*;

class VsockDeviceTest {
    /** Feature bits the mock guest acknowledges; a subclass runs everything without EVENT_IDX. */
    protected long guestFeatures() {
        return -1L;
    }

    private static final long CID = 3;
    private static final int GUEST_BUF = 256 * 1024;

    private GuestMemory memory;
    private VsockDevice device;
    private VsockHost host;
    private MockVsockGuest guest;
    private GuestSide side;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 64L << 20)));
        device = new VsockDevice(CID);
        host = device.host();
        guest = new MockVsockGuest(new GuestHeap(memory, GuestAddress.of(0x1000), (64L << 20) - 0x1000), device, guestFeatures(), 64);
        side = new GuestSide();
    }

    @AfterEach
    void tearDown() {
        device.reset();
        host.close();
        memory.close();
    }

    /** The guest end of one connection, kept the way Linux's virtio transport keeps it. */
    final class GuestConn {
        final int guestPort;
        final int hostPort;
        int bufAlloc = GUEST_BUF;
        boolean consume = true;        // hand data to the "application" at once
        boolean established;
        String reset;
        int peerShut;
        int fwdCnt;
        int lastSentFwd;
        int txCnt;
        int peerBufAlloc;
        int peerFwdCnt;
        byte[] outgoing = new byte[0];
        int sent;
        long received;
        final MessageDigest digest = sha256();
        final java.io.ByteArrayOutputStream keep = new java.io.ByteArrayOutputStream();

        GuestConn(int guestPort, int hostPort) {
            this.guestPort = guestPort;
            this.hostPort = hostPort;
        }

        int hostCredit() {
            return peerBufAlloc - (txCnt - peerFwdCnt);
        }

        void send(int op, int flags, byte[] payload) {
            int len = payload == null ? 0 : payload.length;
            lastSentFwd = fwdCnt;
            guest.send(guest.header(guestPort, hostPort, op, flags, len, bufAlloc, fwdCnt), payload);
        }
    }

    /** Dispatches packets from the device to guest connections, as the guest kernel does. */
    final class GuestSide {
        final Map<Long, GuestConn> conns = new HashMap<>();
        final List<MockVsockGuest.Packet> unmatched = new ArrayList<>();
        final List<MockVsockGuest.Packet> requests = new ArrayList<>();

        long key(int guestPort, int hostPort) {
            return (long) guestPort << 32 | Integer.toUnsignedLong(hostPort);
        }

        GuestConn connect(int guestPort, int hostPort) throws InterruptedException {
            GuestConn c = new GuestConn(guestPort, hostPort);
            conns.put(key(guestPort, hostPort), c);
            c.send(OP_REQUEST, 0, null);
            await(() -> c.established || c.reset != null, "RESPONSE to " + hostPort);
            return c;
        }

        void step(long timeoutMillis) throws InterruptedException {
            MockVsockGuest.Packet p = guest.receive(timeoutMillis);
            while (p != null) {
                dispatch(p);
                p = guest.receive(0);
            }
            for (GuestConn c : conns.values()) {
                pushData(c);
            }
        }

        void dispatch(MockVsockGuest.Packet p) {
            VsockHeader h = p.header();
            assertEquals(VsockHost.HOST_CID, h.srcCid());
            assertEquals(CID, h.dstCid());
            assertEquals(TYPE_STREAM, h.type());
            if (h.op() == OP_REQUEST) {
                requests.add(p);
                return;
            }
            GuestConn c = conns.get(key(h.dstPort(), h.srcPort()));
            if (c == null || c.reset != null) {
                unmatched.add(p);
                return;
            }
            c.peerBufAlloc = h.bufAlloc();
            c.peerFwdCnt = h.fwdCnt();
            switch (h.op()) {
                case OP_RESPONSE -> c.established = true;
                case OP_RW -> {
                    assertTrue(c.established, "data before RESPONSE");
                    long unconsumed = c.received - Integer.toUnsignedLong(c.fwdCnt);
                    assertTrue(unconsumed + p.payload().length <= c.bufAlloc,
                            "host sent beyond the guest's credit: " + unconsumed + "+" + p.payload().length + " > " + c.bufAlloc);
                    c.received += p.payload().length;
                    c.digest.update(p.payload());
                    c.keep.writeBytes(p.payload());
                    if (c.consume) {
                        c.fwdCnt += p.payload().length;
                        if (c.fwdCnt - c.lastSentFwd >= 64 * 1024) {
                            c.send(OP_CREDIT_UPDATE, 0, null);
                        }
                    }
                }
                case OP_SHUTDOWN -> c.peerShut |= h.flags();
                case OP_RST -> c.reset = "RST";
                case OP_CREDIT_REQUEST -> c.send(OP_CREDIT_UPDATE, 0, null);
                case OP_CREDIT_UPDATE -> { }
                default -> fail("unexpected op " + h.op());
            }
        }

        void pushData(GuestConn c) {
            while (c.established && c.reset == null && c.sent < c.outgoing.length && c.hostCredit() > 0) {
                int n = Math.min(Math.min(4096, c.outgoing.length - c.sent), c.hostCredit());
                c.send(OP_RW, 0, Arrays.copyOfRange(c.outgoing, c.sent, c.sent + n));
                c.sent += n;
                c.txCnt += n;
            }
        }

        void await(java.util.function.BooleanSupplier done, String what) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!done.getAsBoolean()) {
                assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
                step(20);
            }
        }

        MockVsockGuest.Packet awaitUnmatched(String what) throws InterruptedException {
            await(() -> !unmatched.isEmpty(), what);
            return unmatched.removeFirst();
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void configSpaceHoldsTheGuestCidAndBadCidsAreRefused() {
        byte[] c = new byte[8];
        device.readConfig(0, c);
        assertEquals(CID, java.nio.ByteBuffer.wrap(c).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong());
        assertEquals(19, device.deviceType());
        assertThrows(InvalidArgumentException.class, () -> new VsockDevice(2));
        assertThrows(InvalidArgumentException.class, () -> new VsockDevice(0xffff_ffffL));
    }

    @Test
    void aGuestConnectsToAListeningHostPort() throws Exception {
        LinkedBlockingQueue<VsockConnection> accepted = new LinkedBlockingQueue<>();
        host.listen(5000, accepted::add);
        GuestConn c = side.connect(1234, 5000);
        assertTrue(c.established);
        assertEquals(VsockConnection.RECEIVE_BUFFER, c.peerBufAlloc, "the host advertises its receive buffer");
        VsockConnection conn = accepted.poll(10, TimeUnit.SECONDS);
        assertNotNull(conn);
        assertEquals(5000, conn.localPort());
        assertEquals(1234, conn.peerPort());
        assertEquals(CID, conn.peerCid());
        assertTrue(conn.isOpen());
        assertEquals(1, device.metrics().connectionsOpened());
    }

    @Test
    void aConnectionToAPortWithoutListenerIsReset() throws Exception {
        GuestConn c = side.connect(1234, 6000);
        assertEquals("RST", c.reset);
        assertFalse(c.established);
    }

    @Test
    void theHostConnectsToAGuestPortAndIsRefusedWhenNobodyListens() throws Exception {
        CompletableFuture<VsockConnection> ok = CompletableFuture.supplyAsync(() -> {
            try {
                return host.connect(7000);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofVirtual().start(r));
        side.await(() -> !side.requests.isEmpty(), "REQUEST from the host");
        VsockHeader req = side.requests.removeFirst().header();
        assertEquals(7000, req.dstPort());
        assertTrue(Integer.toUnsignedLong(req.srcPort()) >= 49152, "an ephemeral host port");
        GuestConn gc = new GuestConn(7000, req.srcPort());
        gc.established = true;
        gc.peerBufAlloc = req.bufAlloc();
        side.conns.put(side.key(7000, req.srcPort()), gc);
        gc.send(OP_RESPONSE, 0, null);
        VsockConnection conn = ok.get(10, TimeUnit.SECONDS);
        assertEquals(7000, conn.peerPort());

        conn.outputStream().write("hello guest".getBytes());
        side.await(() -> gc.received == 11, "data from the host");
        assertEquals("hello guest", gc.keep.toString());
        gc.outgoing = "hello host".getBytes();
        side.pushData(gc);
        assertArrayEquals("hello host".getBytes(), conn.inputStream().readNBytes(10));

        CompletableFuture<Throwable> refused = CompletableFuture.supplyAsync(() -> {
            try {
                host.connect(7001);
                return null;
            } catch (IOException e) {
                return e;
            }
        }, r -> Thread.ofVirtual().start(r));
        side.await(() -> !side.requests.isEmpty(), "second REQUEST");
        VsockHeader req2 = side.requests.removeFirst().header();
        guest.send(guest.header(7001, req2.srcPort(), OP_RST, 0, 0, 0, 0), null);
        Throwable t = refused.get(10, TimeUnit.SECONDS);
        assertInstanceOf(ConnectException.class, t);
        assertTrue(t.getMessage().contains("7001"), t.getMessage());
    }

    @Test
    void streamsSeveralMebibytesBothWaysWithMatchingChecksums() throws Exception {
        int size = 4 << 20;
        byte[] toGuest = random(size, 1);
        byte[] toHost = random(size, 2);
        CompletableFuture<byte[]> hostDigest = new CompletableFuture<>();
        host.listen(5000, conn -> {
            try {
                conn.outputStream().write(toGuest);
            } catch (IOException e) {
                hostDigest.completeExceptionally(e);
            }
        });
        LinkedBlockingQueue<VsockConnection> accepted = new LinkedBlockingQueue<>();
        host.listen(5001, accepted::add);
        // one connection writes host->guest, the other reads guest->host, all at once
        GuestConn down = side.connect(100, 5000);
        GuestConn up = side.connect(101, 5001);
        VsockConnection upConn = accepted.poll(10, TimeUnit.SECONDS);
        Thread.ofVirtual().start(() -> {
            try (InputStream in = upConn.inputStream()) {
                MessageDigest d = sha256();
                byte[] buf = new byte[8192];
                long total = 0;
                for (int n; total < size && (n = in.read(buf)) > 0; total += n) {
                    d.update(buf, 0, n);
                }
                hostDigest.complete(d.digest());
            } catch (IOException e) {
                hostDigest.completeExceptionally(e);
            }
        });
        up.outgoing = toHost;
        side.await(() -> down.received == size && up.sent == size && hostDigest.isDone(), "4 MiB each way");
        assertArrayEquals(sha256().digest(toGuest), down.digest.digest(), "guest received what the host wrote");
        assertArrayEquals(sha256().digest(toHost), hostDigest.get(), "host received what the guest sent");
        assertEquals(size, device.metrics().bytesToGuest());
        assertEquals(size, device.metrics().bytesFromGuest());
    }

    @Test
    void aWriterStopsAtTheGuestsCreditAndResumesOnCreditUpdate() throws Exception {
        int total = 100_000;
        byte[] data = random(total, 3);
        CompletableFuture<Void> written = new CompletableFuture<>();
        host.listen(5000, conn -> {
            try {
                conn.outputStream().write(data);
                written.complete(null);
            } catch (IOException e) {
                written.completeExceptionally(e);
            }
        });
        GuestConn c = new GuestConn(300, 5000);
        c.bufAlloc = 8192;
        c.consume = false;
        side.conns.put(side.key(300, 5000), c);
        c.send(OP_REQUEST, 0, null);
        side.await(() -> c.received == 8192, "the first 8192 bytes");
        for (int i = 0; i < 10; i++) {
            side.step(20);
        }
        assertEquals(8192, c.received, "nothing beyond the guest's buf_alloc");
        assertFalse(written.isDone(), "the host writer is blocked: 100000 > credit + send buffer");

        c.fwdCnt = 8192;
        c.bufAlloc = GUEST_BUF;
        c.consume = true;
        c.send(OP_CREDIT_UPDATE, 0, null);
        side.await(() -> c.received == total, "the rest after CREDIT_UPDATE");
        written.get(10, TimeUnit.SECONDS);
        assertArrayEquals(data, c.keep.toByteArray());
    }

    @Test
    void aGuestExceedingTheHostsCreditIsReset() throws Exception {
        LinkedBlockingQueue<VsockConnection> accepted = new LinkedBlockingQueue<>();
        host.listen(5000, accepted::add);
        GuestConn c = side.connect(400, 5000);
        VsockConnection conn = accepted.poll(10, TimeUnit.SECONDS);
        byte[] chunk = random(VsockDevice.MAX_PAYLOAD, 4);
        for (int i = 0; i < VsockConnection.RECEIVE_BUFFER / chunk.length; i++) {
            c.send(OP_RW, 0, chunk); // exactly the advertised buffer: allowed
        }
        c.send(OP_RW, 0, new byte[1]); // one byte beyond
        side.await(() -> c.reset != null, "RST for exceeding credit");
        byte[] got = conn.inputStream().readNBytes(VsockConnection.RECEIVE_BUFFER);
        assertEquals(VsockConnection.RECEIVE_BUFFER, got.length, "data received within credit is still readable");
        IOException e = assertThrows(IOException.class, () -> conn.inputStream().read());
        assertTrue(e.getMessage().contains("credit"), e.getMessage());
    }

    @Test
    void dataForAnUnknownConnectionIsAnsweredWithRst() throws Exception {
        guest.send(guest.header(999, 5000, OP_RW, 0, 3, GUEST_BUF, 0), new byte[] {1, 2, 3});
        VsockHeader rst = side.awaitUnmatched("RST").header();
        assertEquals(OP_RST, rst.op());
        assertEquals(5000, rst.srcPort());
        assertEquals(999, rst.dstPort());
        guest.send(guest.header(999, 5000, OP_RST, 0, 0, 0, 0), null);
        for (int i = 0; i < 5; i++) {
            side.step(20);
        }
        assertTrue(side.unmatched.isEmpty(), "an RST is never answered");
    }

    @Test
    void shutdownHalfClosesAndCloseEndsWithRst() throws Exception {
        LinkedBlockingQueue<VsockConnection> accepted = new LinkedBlockingQueue<>();
        host.listen(5000, accepted::add);
        GuestConn c = side.connect(500, 5000);
        VsockConnection conn = accepted.poll(10, TimeUnit.SECONDS);
        c.outgoing = "last words".getBytes();
        side.pushData(c);
        c.send(OP_SHUTDOWN, SHUTDOWN_SEND, null);
        assertArrayEquals("last words".getBytes(), conn.inputStream().readAllBytes(), "data, then EOF");
        conn.outputStream().write("still talking".getBytes());
        conn.close();
        side.await(() -> c.peerShut == (SHUTDOWN_SEND | SHUTDOWN_RCV), "SHUTDOWN from the host");
        assertEquals("still talking", c.keep.toString(), "queued data goes out before SHUTDOWN");
        assertEquals(1, host.connectionCount(), "waiting for the guest's RST");
        c.send(OP_RST, 0, null);
        side.await(() -> host.connectionCount() == 0, "connection removed after RST");
        assertTrue(side.unmatched.isEmpty());

        GuestConn d = side.connect(501, 5000);
        VsockConnection conn2 = accepted.poll(10, TimeUnit.SECONDS);
        d.send(OP_SHUTDOWN, SHUTDOWN_SEND | SHUTDOWN_RCV, null);
        side.await(() -> d.reset != null, "RST answering a full shutdown");
        assertEquals(-1, conn2.inputStream().read());
        assertThrows(IOException.class, () -> conn2.outputStream().write(1));
        assertEquals(0, host.connectionCount());
    }

    @Test
    void thirtyTwoConcurrentConnectionsEchoTheirOwnData() throws Exception {
        host.listen(8000, conn -> {
            try (conn) {
                conn.inputStream().transferTo(conn.outputStream());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        int n = 32;
        int size = 128 * 1024;
        List<GuestConn> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            GuestConn c = side.connect(2000 + i, 8000);
            c.outgoing = random(size, 100 + i);
            cs.add(c);
        }
        side.await(() -> cs.stream().allMatch(c -> c.sent == size), "all data sent");
        for (GuestConn c : cs) {
            c.send(OP_SHUTDOWN, SHUTDOWN_SEND, null); // EOF for transferTo
        }
        side.await(() -> cs.stream().allMatch(c -> c.received == size), "all echoes back");
        for (GuestConn c : cs) {
            assertArrayEquals(sha256().digest(c.outgoing), c.digest.digest(), "connection " + c.guestPort);
        }
        assertEquals(n, device.metrics().connectionsOpened());
    }

    @Test
    void malformedPacketsAreRefusedWithoutDisturbingOtherConnections() throws Exception {
        host.listen(8000, conn -> {
            try (conn) {
                conn.inputStream().transferTo(conn.outputStream());
            } catch (IOException e) {
                // reset by the test
            }
        });
        GuestConn good = side.connect(3000, 8000);
        GuestConn victim = side.connect(3001, 8000);
        long malformedBefore = device.metrics().malformedPackets();

        // len larger than the payload present: the connection it names is reset
        guest.send(guest.header(3001, 8000, OP_RW, 0, 100, GUEST_BUF, 0), new byte[10]);
        side.await(() -> victim.reset != null, "RST for a bad len");
        // len above the 64 KiB maximum
        guest.send(guest.header(3002, 8000, OP_RW, 0, 70_000, GUEST_BUF, 0), new byte[70_000]);
        assertEquals(OP_RST, side.awaitUnmatched("RST for len > max").header().op());
        // an unknown op
        guest.send(guest.header(3003, 8000, 99, 0, 0, GUEST_BUF, 0), null);
        assertEquals(OP_RST, side.awaitUnmatched("RST for op 99").header().op());
        // a datagram type
        guest.send(new VsockHeader(CID, 2, 3004, 8000, 0, 2, OP_REQUEST, 0, GUEST_BUF, 0), null);
        assertEquals(OP_RST, side.awaitUnmatched("RST for type 2").header().op());
        // wrong cids and a short header: dropped silently
        guest.send(new VsockHeader(CID, 7, 3005, 8000, 0, TYPE_STREAM, OP_REQUEST, 0, GUEST_BUF, 0), null);
        guest.send(new VsockHeader(9, 2, 3006, 8000, 0, TYPE_STREAM, OP_REQUEST, 0, GUEST_BUF, 0), null);
        guest.sendRaw(new byte[20]);

        good.outgoing = "still fine".getBytes();
        side.await(() -> good.received == 10, "echo on the untouched connection");
        assertEquals("still fine", good.keep.toString());
        assertTrue(side.unmatched.isEmpty(), "no reply to wrong-cid or short packets: " + side.unmatched);
        assertEquals(7, device.metrics().malformedPackets() - malformedBefore);
    }

    @Test
    void aDeviceResetFailsOpenStreams() throws Exception {
        LinkedBlockingQueue<VsockConnection> accepted = new LinkedBlockingQueue<>();
        host.listen(5000, accepted::add);
        side.connect(600, 5000);
        VsockConnection conn = accepted.poll(10, TimeUnit.SECONDS);
        CompletableFuture<Throwable> reader = CompletableFuture.supplyAsync(() -> {
            try {
                conn.inputStream().read();
                return null;
            } catch (IOException e) {
                return e;
            }
        }, r -> Thread.ofVirtual().start(r));
        device.reset();
        Throwable t = reader.get(10, TimeUnit.SECONDS);
        assertInstanceOf(IOException.class, t);
        assertTrue(t.getMessage().contains("reset"), t.getMessage());
        assertFalse(conn.isOpen());
        assertThrows(ConnectException.class, () -> host.connect(1));
    }

    @Test
    void featuresAreNegotiatedOnce() {
        assertTrue(VirtioFeatures.has(device.availFeatures(), VirtioFeatures.VERSION_1));
        assertEquals(device.availFeatures() & guestFeatures(), device.ackedFeatures(), "what the guest asked for, minus what was not offered");
    }
}
