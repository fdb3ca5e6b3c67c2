package io.boxlite.vmm.vstate;

import io.boxlite.InvalidStateException;
import io.boxlite.sys.Epoll;
import io.boxlite.sys.EventFd;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;

/**
 * The platform thread that waits on every virtio-mmio slot's ioeventfds (one epoll) and hands
 * each kick to its device, whose workers are virtual threads ({@code docs/threading.md}: native
 * waits stay on platform threads). A stop eventfd ends the loop.
 */
final class IoEventLoop implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(IoEventLoop.class.getName());
    private static final long STOP_TOKEN = -1;
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(2);

    private final List<VirtioMmioSlot> slots;
    private final Epoll epoll;
    private final EventFd stop;
    private final Thread thread;
    private volatile boolean stopping;

    private IoEventLoop(List<VirtioMmioSlot> slots, Epoll epoll, EventFd stop) {
        this.slots = List.copyOf(slots);
        this.epoll = epoll;
        this.stop = stop;
        this.thread = Thread.ofPlatform().daemon().name("boxlite-virtio-kicks").unstarted(this::run);
    }

    /** Registers every slot's kick eventfds and starts the thread. */
    static IoEventLoop start(List<VirtioMmioSlot> slots) {
        int fds = 1 + slots.stream().mapToInt(s -> s.kickEvents().size()).sum();
        Epoll epoll = Epoll.create(fds);
        EventFd stop = null;
        try {
            stop = EventFd.create(true);
            epoll.add(stop.fd(), Epoll.IN, STOP_TOKEN);
            for (int s = 0; s < slots.size(); s++) {
                List<EventFd> kicks = slots.get(s).kickEvents();
                for (int q = 0; q < kicks.size(); q++) {
                    epoll.add(kicks.get(q).fd(), Epoll.IN, (long) s << 16 | q);
                }
            }
        } catch (RuntimeException e) {
            if (stop != null) {
                stop.close();
            }
            epoll.close();
            throw e;
        }
        IoEventLoop loop = new IoEventLoop(slots, epoll, stop);
        loop.thread.start();
        return loop;
    }

    private void run() {
        try {
            while (!stopping) {
                epoll.await(-1, this::dispatch);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "virtio kick loop failed; devices will no longer see guest kicks", e);
        }
    }

    private void dispatch(Epoll.Event event) {
        if (event.token() == STOP_TOKEN) {
            stopping = true;
            return;
        }
        int slot = (int) (event.token() >>> 16);
        int queue = (int) (event.token() & 0xffff);
        try {
            slots.get(slot).kicked(queue);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "virtio kick of slot " + slot + " queue " + queue + " failed", e);
        }
    }

    /** Stops the thread and waits for it (bounded), then closes the epoll instance. */
    @Override
    public void close() {
        stopping = true;
        stop.signal();
        try {
            if (!thread.join(JOIN_TIMEOUT)) {
                throw new InvalidStateException("the virtio kick thread did not stop within "
                        + JOIN_TIMEOUT.toMillis() + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InvalidStateException("interrupted while stopping the virtio kick thread");
        } finally {
            if (!thread.isAlive()) {
                epoll.close();
                stop.close();
            }
        }
    }
}
