package io.boxlite.engine;

import io.boxlite.agent.AgentClient;
import io.boxlite.agent.GuestConnector;
import io.boxlite.agent.ShutdownAction;

import java.time.Duration;
import java.util.Optional;

/** A booted box VM on some engine (internal API). {@link #close()} tears it down at once. */
public interface BoxVm extends AutoCloseable {
    /** Streams to guest vsock ports. */
    GuestConnector connector();

    /** Waits for the guest agent's handshake. */
    AgentClient awaitAgent(Duration timeout);

    /** Whether the guest still runs. */
    boolean isAlive();

    /** Waits for the guest to power off; empty on timeout. */
    Optional<Integer> awaitExit(Duration timeout) throws InterruptedException;

    /**
     * What the agent does at the end of an orderly stop so that this engine's VM ends: QEMU exits
     * on a power-off; BoxLite's VMM exits on the guest's reset ({@code reboot=k}), having no ACPI
     * power-off.
     */
    default ShutdownAction stopAction() {
        return ShutdownAction.POWER_OFF;
    }

    /** Guest RAM the host has backed with pages so far, where the engine can tell (the KVM engine). */
    default Optional<Long> guestResidentBytes() {
        return Optional.empty();
    }

    /** The PID of the process running the guest CPU (QEMU), or this process's. */
    long pid();

    /** The guest's serial console log. */
    java.nio.file.Path consoleLog();

    @Override
    void close();
}
