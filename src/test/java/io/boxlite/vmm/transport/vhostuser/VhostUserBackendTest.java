package io.boxlite.vmm.transport.vhostuser;

import io.boxlite.sys.EventFd;
import io.boxlite.sys.Fd;
import io.boxlite.sys.MemoryMapping;
import io.boxlite.sys.UnixSocket;
import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import io.boxlite.vmm.memory.GuestRegion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The back end against a scripted front-end playing QEMU: the same messages in the same order,
 * guest RAM in a memfd, rings in it at front-end virtual addresses, kicks and calls on eventfds.
 */
class VhostUserBackendTest {
    private static final long GPA = 0x4000_0000L;
    private static final long FRONT_VA = 0x7f12_0000_0000L; // QEMU's own address of that RAM
    private static final long RAM = 1 << 20;

    @TempDir
    Path dir;
    private final BlockingQueue<String> ended = new LinkedBlockingQueue<>();
    private final FillDevice device = new FillDevice();
    private VhostUserBackend backend;
    private Arena arena;

    @BeforeEach
    void start() {
        backend = VhostUserBackend.listen(dir.resolve("dev.sock"), device, "test", ended::add);
        arena = Arena.ofShared();
    }

    @AfterEach
    void stop() {
        backend.close();
        arena.close();
        assertFalse(Files.exists(dir.resolve("dev.sock")), "the socket is removed");
    }

    /** QEMU's side: a connection, guest RAM, and one ring. */
    private final class FrontEnd implements AutoCloseable {
        final UnixSocket sock = UnixSocket.connect(dir.resolve("dev.sock"));
        final Fd memfd = MemoryMapping.memfd("guest-ram", RAM);
        final GuestMemory memory = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(GPA),
                MemoryMapping.shared(memfd.value(), 0, RAM, arena))));
        final MockSplitQueue ring = new MockSplitQueue(new GuestHeap(memory, GuestAddress.of(GPA), RAM), 16);
        final EventFd kick = EventFd.create(true);
        final EventFd call = EventFd.create(true);

        void send(int request, byte[] payload, int... fds) {
            sock.send(Message.encode(request, Request.VERSION, payload), fds);
        }

        void sendNeedingReply(int request, byte[] payload, int... fds) {
            sock.send(Message.encode(request, Request.VERSION | Request.FLAG_NEED_REPLY, payload), fds);
        }

        ByteBuffer reply(int expectedRequest) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment header = read(a, Message.HEADER);
                ByteBuffer h = header.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(expectedRequest, h.getInt(), "reply to the request sent");
                assertEquals(Request.VERSION | Request.FLAG_REPLY, h.getInt());
                int size = h.getInt();
                return ByteBuffer.wrap(read(a, size).toArray(ValueLayout.JAVA_BYTE)).order(ByteOrder.LITTLE_ENDIAN);
            }
        }

        private MemorySegment read(Arena a, int n) {
            MemorySegment buf = a.allocate(Math.max(1, n));
            int got = 0;
            while (got < n) {
                try (UnixSocket.Received r = sock.receive(buf.asSlice(got, n - got))) {
                    assertFalse(r.endOfStream(), "the back end hung up");
                    got += r.bytes();
                }
            }
            return buf.asSlice(0, n);
        }

        /** QEMU's start sequence for one ring. */
        void startDevice() {
            send(Request.GET_FEATURES, new byte[0]);
            long features = reply(Request.GET_FEATURES).getLong();
            assertTrue((features & Request.F_PROTOCOL_FEATURES) != 0);
            send(Request.GET_PROTOCOL_FEATURES, new byte[0]);
            long protocol = reply(Request.GET_PROTOCOL_FEATURES).getLong();
            send(Request.SET_PROTOCOL_FEATURES, Message.u64(protocol));
            send(Request.SET_OWNER, new byte[0]);
            send(Request.SET_FEATURES, Message.u64(features));
            ByteBuffer table = ByteBuffer.allocate(8 + 32).order(ByteOrder.LITTLE_ENDIAN);
            table.putInt(1).putInt(0).putLong(GPA).putLong(RAM).putLong(FRONT_VA).putLong(0);
            send(Request.SET_MEM_TABLE, table.array(), memfd.value());
            send(Request.SET_VRING_NUM, state(0, ring.size()));
            send(Request.SET_VRING_BASE, state(0, 0));
            ByteBuffer addr = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
            addr.putInt(0).putInt(0).putLong(va(ring.descTable())).putLong(va(ring.usedRing()))
                    .putLong(va(ring.availRing())).putLong(0);
            send(Request.SET_VRING_ADDR, addr.array());
            send(Request.SET_VRING_KICK, Message.u64(0), kick.fd());
            send(Request.SET_VRING_CALL, Message.u64(0), call.fd());
            sendNeedingReply(Request.SET_VRING_ENABLE, state(0, 1));
            assertEquals(0, reply(Request.SET_VRING_ENABLE).getLong(), "REPLY_ACK: success");
        }

        MockSplitQueue.Used awaitUsed() throws InterruptedException {
            for (int i = 0; i < 500; i++) {
                MockSplitQueue.Used u = ring.pollUsed();
                if (u != null) {
                    return u;
                }
                Thread.sleep(10);
            }
            return null;
        }

        OptionalLong awaitCall() throws InterruptedException {
            for (int i = 0; i < 500; i++) {
                OptionalLong v = call.read();
                if (v.isPresent()) {
                    return v;
                }
                Thread.sleep(10);
            }
            return OptionalLong.empty();
        }

        @Override
        public void close() {
            sock.close();
            memfd.close();
            kick.close();
            call.close();
        }
    }

    private static long va(GuestAddress gpa) {
        return FRONT_VA + (gpa.value() - GPA);
    }

    private static byte[] state(int index, int num) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(index).putInt(num).array();
    }

    @Test
    void servesTheRingThroughKickAndCallEventfds() throws Exception {
        try (FrontEnd qemu = new FrontEnd()) {
            qemu.startDevice();
            GuestAddress buf = GuestAddress.of(GPA + 0x8_0000);
            int head = qemu.ring.offer(List.of(MockSplitQueue.Buffer.writable(buf, 256)));
            qemu.kick.signal();
            MockSplitQueue.Used used = qemu.awaitUsed();
            assertTrue(qemu.awaitCall().isPresent(), "the device interrupted through the call eventfd");
            assertEquals(head, used.head());
            assertEquals(256, used.length());
            assertEquals(FillDevice.FILL, qemu.memory.readByte(buf.plus(255)), "the back end wrote guest RAM");

            qemu.send(Request.GET_CONFIG, ByteBuffer.allocate(12 + 4).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(2).putInt(4).putInt(0).array());
            ByteBuffer cfg = qemu.reply(Request.GET_CONFIG);
            assertEquals(2, cfg.getInt());
            assertEquals(4, cfg.getInt());
            cfg.getInt();
            assertEquals(0x12, cfg.get(), "config bytes come from the device");

            qemu.send(Request.GET_VRING_BASE, state(0, 0));
            ByteBuffer base = qemu.reply(Request.GET_VRING_BASE);
            assertEquals(0, base.getInt());
            assertEquals(1, base.getInt(), "one chain was consumed");
            assertEquals(1, device.resets, "stopping the ring stops the device");
        }
        assertTrue(ended.poll(5, TimeUnit.SECONDS).contains("closed the connection"));
    }

    @Test
    void aMalformedMessageEndsOnlyThatSessionAndLeaksNothing() throws Exception {
        try (FrontEnd warmup = new FrontEnd()) {
            warmup.startDevice();
        }
        assertNotNull(ended.poll(5, TimeUnit.SECONDS));
        long before = openDescriptors();

        try (FrontEnd bad = new FrontEnd()) {
            bad.startDevice();
            bad.sock.send(ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(Request.SET_VRING_NUM).putInt(Request.VERSION).putInt(1 << 30).array());
            String reason = ended.poll(5, TimeUnit.SECONDS);
            assertNotNull(reason);
            assertTrue(reason.contains("protocol error") && reason.contains("payload"), reason);
        }

        try (FrontEnd next = new FrontEnd()) {
            next.startDevice();
            next.ring.offer(List.of(MockSplitQueue.Buffer.writable(GuestAddress.of(GPA + 0x9_0000), 16)));
            next.kick.signal();
            assertNotNull(next.awaitUsed(), "a new front-end is served after the bad one");
            assertTrue(next.awaitCall().isPresent());
        }
        assertNotNull(ended.poll(5, TimeUnit.SECONDS));
        Thread.sleep(100);
        assertEquals(before, openDescriptors(), "mappings' descriptors, eventfds and sockets were all released");
    }

    @Test
    void ringAddressesOutsideTheMemoryTableAreRefused() throws Exception {
        try (FrontEnd qemu = new FrontEnd()) {
            ByteBuffer table = ByteBuffer.allocate(8 + 32).order(ByteOrder.LITTLE_ENDIAN);
            table.putInt(1).putInt(0).putLong(GPA).putLong(RAM).putLong(FRONT_VA).putLong(0);
            qemu.send(Request.SET_MEM_TABLE, table.array(), qemu.memfd.value());
            ByteBuffer addr = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
            addr.putInt(0).putInt(0).putLong(FRONT_VA + RAM).putLong(FRONT_VA).putLong(FRONT_VA).putLong(0);
            qemu.send(Request.SET_VRING_ADDR, addr.array());
            String reason = ended.poll(5, TimeUnit.SECONDS);
            assertNotNull(reason);
            assertTrue(reason.contains("descriptor table") && reason.contains("not in any memory region"), reason);
        }
    }

    private static long openDescriptors() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
