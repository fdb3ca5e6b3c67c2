package io.boxlite.bench;

import io.boxlite.sys.EventFd;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Shows why BoxLite never blocks a virtual thread inside a foreign call.
 *
 * <p>With as many virtual threads parked in a blocking native read as there are carriers, a
 * new virtual thread cannot start until a read returns: foreign calls pin the carrier and the
 * scheduler does not compensate. Three ways to wait for the same eventfd are compared by the
 * delay a trivial virtual task sees while the waiters are blocked:
 * <ol>
 *   <li>{@code foreign}: each waiter is a virtual thread in {@link EventFd#read()};</li>
 *   <li>{@code queue}: each waiter is a virtual thread in {@link BlockingQueue#take()}, fed by
 *       one platform thread blocked in the eventfd reads (the rule we adopted);</li>
 *   <li>{@code platform}: each waiter is a platform thread in {@link EventFd#read()}.</li>
 * </ol>
 * Usage: {@code java -cp benchmarks.jar io.boxlite.bench.PinningDemo [rounds] [holdMillis]}.
 */
public final class PinningDemo {
    private PinningDemo() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        long holdMillis = args.length > 1 ? Long.parseLong(args[1]) : 200;
        int carriers = Integer.getInteger("jdk.virtualThreadScheduler.parallelism",
                Runtime.getRuntime().availableProcessors());
        System.out.printf("carriers=%d waiters=%d hold=%d ms rounds=%d%n", carriers, carriers, holdMillis, rounds);
        for (String mode : List.of("foreign", "queue", "platform")) {
            double[] delays = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                delays[i] = round(mode, carriers, holdMillis);
            }
            Arrays.sort(delays);
            System.out.printf("%-8s start delay of a virtual task: median %.3f ms (min %.3f, max %.3f)%n",
                    mode, delays[rounds / 2], delays[0], delays[rounds - 1]);
        }
    }

    /** Blocks {@code waiters} in the given way, then times how long a new virtual task takes to start. */
    private static double round(String mode, int waiters, long holdMillis) throws Exception {
        List<EventFd> events = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        CountDownLatch blocked = new CountDownLatch(waiters);
        BlockingQueue<Long> queue = new ArrayBlockingQueue<>(waiters);
        for (int i = 0; i < waiters; i++) {
            EventFd e = EventFd.create();
            events.add(e);
            Runnable nativeWait = () -> {
                blocked.countDown();
                e.read();
            };
            switch (mode) {
                case "foreign" -> threads.add(Thread.ofVirtual().start(nativeWait));
                case "platform" -> threads.add(Thread.ofPlatform().start(nativeWait));
                case "queue" -> {
                    threads.add(Thread.ofVirtual().start(() -> {
                        blocked.countDown();
                        try {
                            queue.take();
                        } catch (InterruptedException ex) {
                            Thread.currentThread().interrupt();
                        }
                    }));
                    threads.add(Thread.ofPlatform().start(() -> queue.add(e.read().orElse(0))));
                }
                default -> throw new IllegalArgumentException(mode);
            }
        }
        blocked.await();
        Thread.sleep(20); // let the waiters enter their blocking calls

        long start = System.nanoTime();
        long[] ran = new long[1];
        Thread probe = Thread.ofVirtual().start(() -> ran[0] = System.nanoTime());
        Thread.sleep(holdMillis);
        for (EventFd e : events) {
            e.signal();
        }
        probe.join();
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(5));
        }
        events.forEach(EventFd::close);
        return (ran[0] - start) / 1e6;
    }
}
