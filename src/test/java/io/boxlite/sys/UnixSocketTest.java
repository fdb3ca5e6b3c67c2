package io.boxlite.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.*;

class UnixSocketTest {

    @Test
    void passesDescriptorsThatStayUsableOnTheOtherSide() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1];
             EventFd kick = EventFd.create(true);
             Fd memfd = MemoryMapping.memfd("boxlite-test", 4096);
             Arena arena = Arena.ofConfined()) {
            a.send("mem-table".getBytes(StandardCharsets.US_ASCII), kick.fd(), memfd.value());

            MemorySegment buf = arena.allocate(64);
            try (UnixSocket.Received got = b.receive(buf)) {
                assertEquals("mem-table", new String(buf.asSlice(0, got.bytes()).toArray(ValueLayout.JAVA_BYTE),
                        StandardCharsets.US_ASCII));
                assertEquals(2, got.fds().size());
                assertNotEquals(kick.fd(), got.fds().get(0).value(), "the receiver gets its own descriptor numbers");

                // The received eventfd is the same kernel object: signal it, read the original.
                EventFd.adopt(got.fds().get(0)).signal(7);
                assertEquals(OptionalLong.of(7), kick.read());

                // The received memfd maps the same pages.
                MemorySegment mine = MemoryMapping.shared(memfd.value(), 0, 4096, arena);
                MemorySegment theirs = MemoryMapping.shared(got.fds().get(1).value(), 0, 4096, arena);
                mine.set(ValueLayout.JAVA_LONG, 128, 0x1122334455667788L);
                assertEquals(0x1122334455667788L, theirs.get(ValueLayout.JAVA_LONG, 128));
            }
        }
    }

    @Test
    void listenConnectAcceptAndEndOfStream(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("vhost.sock");
        try (UnixSocket server = UnixSocket.listen(path, 1); Arena arena = Arena.ofConfined()) {
            assertTrue(Files.exists(path));
            Thread client = Thread.ofPlatform().start(() -> {
                try (UnixSocket c = UnixSocket.connect(path)) {
                    c.send(new byte[] {1, 2, 3});
                    c.shutdownOutput();
                }
            });
            try (UnixSocket conn = server.accept()) {
                MemorySegment buf = arena.allocate(16);
                int total = 0;
                while (true) {
                    try (UnixSocket.Received r = conn.receive(buf.asSlice(total))) {
                        if (r.endOfStream()) {
                            break;
                        }
                        assertTrue(r.fds().isEmpty());
                        total += r.bytes();
                    }
                }
                assertArrayEquals(new byte[] {1, 2, 3}, buf.asSlice(0, total).toArray(ValueLayout.JAVA_BYTE));
            }
            client.join();
        }
    }

    @Test
    void refusesPathsLongerThanSunPath(@TempDir Path dir) {
        Path longPath = dir.resolve("x".repeat(120) + ".sock");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UnixSocket.listen(longPath, 1));
        assertTrue(e.getMessage().contains("107-byte limit"), e.getMessage());
    }

    @Test
    void connectingToNothingNamesTheErrno(@TempDir Path dir) {
        NativeException e = assertThrows(NativeException.class, () -> UnixSocket.connect(dir.resolve("absent.sock")));
        assertTrue(e.getMessage().contains("ENOENT"), e.getMessage());
        assertTrue(e.operation().startsWith("connect("));
    }
}
