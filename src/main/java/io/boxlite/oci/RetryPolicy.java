package io.boxlite.oci;

import io.boxlite.InvalidArgumentException;
import java.time.Duration;
import java.util.Objects;

/**
 * Bounded retries with exponential back-off, for transient registry failures (5xx, 429,
 * connection errors, a body cut off mid-transfer).
 *
 * @param maxAttempts    attempts in total, at least 1
 * @param initialBackoff the wait after the first failure; doubled after each further one
 * @param maxBackoff     the cap on a single wait
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    /** 5 attempts, waiting 0.5 s, 1 s, 2 s, 4 s. */
    public static final RetryPolicy DEFAULT =
            new RetryPolicy(5, Duration.ofMillis(500), Duration.ofSeconds(8));

    public RetryPolicy {
        Objects.requireNonNull(initialBackoff, "initialBackoff");
        Objects.requireNonNull(maxBackoff, "maxBackoff");
        if (maxAttempts < 1) {
            throw new InvalidArgumentException("maxAttempts must be at least 1, got " + maxAttempts);
        }
        if (initialBackoff.isNegative() || maxBackoff.isNegative()) {
            throw new InvalidArgumentException("Back-off durations must not be negative");
        }
    }

    /** The wait before attempt {@code attempt + 1}, after {@code attempt} (1-based) failed. */
    public Duration backoff(int attempt) {
        Duration wait = initialBackoff;
        for (int i = 1; i < attempt && wait.compareTo(maxBackoff) < 0; i++) {
            wait = wait.multipliedBy(2);
        }
        return wait.compareTo(maxBackoff) > 0 ? maxBackoff : wait;
    }

    /**
     * Sleeps for {@link #backoff(int)}, or for {@code hint} (a server's {@code Retry-After})
     * when it is given and shorter than the cap.
     *
     * @throws ImageException if the thread is interrupted (the interrupt flag is restored)
     */
    public void pause(int attempt, Duration hint) {
        Duration wait = hint != null && !hint.isNegative() && hint.compareTo(maxBackoff) <= 0
                ? hint : backoff(attempt);
        try {
            Thread.sleep(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ImageException("Interrupted while waiting to retry", e);
        }
    }
}
