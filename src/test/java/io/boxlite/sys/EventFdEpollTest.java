package io.boxlite.sys;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.*;

class EventFdEpollTest {

    @Test
    void eventFdAccumulatesUntilRead() {
        try (EventFd e = EventFd.create(true)) {
            assertEquals(OptionalLong.empty(), e.read(), "non-blocking read of zero is empty");
            e.signal(2);
            e.signal();
            assertEquals(OptionalLong.of(3), e.read());
            assertEquals(OptionalLong.empty(), e.read());
            assertThrows(IllegalArgumentException.class, () -> e.signal(0));
        }
    }

    @Test
    void epollReportsTheTokenOfTheReadyDescriptor() {
        try (Epoll epoll = Epoll.create(8); EventFd a = EventFd.create(true); EventFd b = EventFd.create(true)) {
            epoll.add(a.fd(), Epoll.IN, 100);
            epoll.add(b.fd(), Epoll.IN, 200);
            List<Epoll.Event> events = new ArrayList<>();
            assertEquals(0, epoll.await(0, events::add), "nothing ready yet");
            b.signal();
            assertEquals(1, epoll.await(1000, events::add));
            assertEquals(200, events.getFirst().token());
            assertTrue(events.getFirst().readable());
            epoll.remove(b.fd());
            assertEquals(0, epoll.await(0, events::add), "removed descriptors are not reported");
        }
    }

    @Test
    void anotherThreadWakesAWaitingEventLoop() throws Exception {
        try (Epoll epoll = Epoll.create(4); EventFd wake = EventFd.create(true)) {
            epoll.add(wake.fd(), Epoll.IN, 1);
            Thread waker = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                wake.signal();
            });
            List<Epoll.Event> events = new ArrayList<>();
            long start = System.nanoTime();
            while (events.isEmpty() && System.nanoTime() - start < 5_000_000_000L) {
                epoll.await(5000, events::add);
            }
            waker.join();
            assertEquals(1, events.size());
            assertEquals(OptionalLong.of(1), wake.read());
        }
    }

    @Test
    void closingTwiceIsHarmlessAndUseAfterCloseIsCaught() {
        EventFd e = EventFd.create();
        e.close();
        e.close();
        assertThrows(IllegalStateException.class, e::fd);
    }
}
