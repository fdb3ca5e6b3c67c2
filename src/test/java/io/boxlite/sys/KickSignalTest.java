package io.boxlite.sys;

import io.boxlite.sys.gen.BoxliteSys;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The vCPU kick signal must never hurt the JVM: a real-time signal's default action kills the
 * process, so if any of these deliveries were not handled the test JVM would die (and the run
 * fail). Each sends the signal where nothing blocks it.
 */
class KickSignalTest {
    private final KickSignal kick = KickSignal.instance();

    @Test
    void theSignalIsARealTimeSignalWithTheNoOpNativeHandlerAndSaRestart() {
        assertTrue(kick.number() >= Libc.sigrtmin() + 6 && kick.number() <= Libc.sigrtmax(), "signal " + kick.number());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment old = arena.allocate(Libc.SIGACTION_BYTES, 8);
            assertEquals(0, Libc.sigaction(kick.number(), MemorySegment.NULL, old));
            assertEquals(BoxliteSys.getpid$address().address(), old.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(Libc.SA_RESTART, old.get(ValueLayout.JAVA_INT, Libc.SIGACTION_FLAGS_OFFSET) & Libc.SA_RESTART);
        }
        assertSame(kick, KickSignal.instance(), "installed once per process");
    }

    @Test
    void deliveryToAThreadThatDoesNotBlockItIsHarmless() throws Exception {
        assertFalse(kick.blockedInCurrentThread());
        for (int i = 0; i < 100; i++) {
            assertTrue(kick.send(Libc.gettid()));
        }
        AtomicBoolean alive = new AtomicBoolean();
        Thread t = Thread.ofPlatform().start(() -> alive.set(true));
        t.join();
        assertTrue(alive.get(), "the JVM still runs threads after 100 unblocked deliveries");
    }

    @Test
    void aProcessDirectedSignalIsHarmlessToo() throws Exception {
        int pid = Math.toIntExact(ProcessHandle.current().pid());
        for (int i = 0; i < 20; i++) {
            assertEquals(0, BoxliteSys.kill(pid, kick.number()));
        }
        Thread.sleep(50);
        assertTrue(Thread.currentThread().isAlive());
    }

    @Test
    void aBlockedSignalStaysPendingUntilDrainedAndOnlyOnThatThread() throws Exception {
        AtomicInteger drained = new AtomicInteger(-1);
        AtomicInteger drainedAgain = new AtomicInteger(-1);
        Thread t = Thread.ofPlatform().start(() -> {
            kick.blockInCurrentThread();
            assertTrue(kick.blockedInCurrentThread());
            assertTrue(kick.send(Libc.gettid()));
            assertTrue(kick.send(Libc.gettid()));
            drained.set(kick.drainCurrentThread());   // standard signals coalesce; real-time ones queue
            drainedAgain.set(kick.drainCurrentThread());
        });
        t.join();
        assertEquals(2, drained.get(), "both queued instances were taken by sigtimedwait");
        assertEquals(0, drainedAgain.get());
        assertFalse(kick.blockedInCurrentThread(), "blocking stays confined to the vCPU thread");
    }

    @Test
    void theKvmRunMaskUnblocksOnlyTheKickSignal() throws Exception {
        long[] mask = new long[2];
        Thread t = Thread.ofPlatform().start(() -> {
            kick.blockInCurrentThread();
            mask[0] = kick.kvmRunMask();
        });
        t.join();
        assertEquals(0, mask[0] & (1L << (kick.number() - 1)), "kick signal deliverable inside KVM_RUN");
    }
}
