package io.boxlite.vmm.vstate;

import io.boxlite.InvalidStateException;
import io.boxlite.kvm.VcpuExit;
import io.boxlite.kvm.VcpuFd;
import io.boxlite.sys.KickSignal;
import io.boxlite.sys.Libc;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One vCPU as a state machine on its own named platform thread ({@code boxlite-vcpu-N}):
 * commands go in through a queue, the thread runs {@code KVM_RUN} and dispatches port-I/O and
 * MMIO exits to the buses. {@link #pause()} and {@link #finish()} work while the guest spins:
 * they set {@code immediate_exit} and send the {@link KickSignal} to the thread.
 *
 * <p>When the guest ends the run (reset, triple fault, done port) or the vCPU fails, the
 * {@link VmExit} goes to the listener and the thread finishes.
 *
 * {@snippet :
 * Vcpu cpu = new Vcpu(vcpuFd, pio, mmio, exit -> vm.requestExit(exit));
 * cpu.start();   // thread up, Paused
 * cpu.resume();  // guest runs
 * cpu.finish();  // kicks it out and ends the thread
 * cpu.awaitFinished(Duration.ofSeconds(1));
 * }
 */
public final class Vcpu {
    private static final System.Logger LOG = System.getLogger(Vcpu.class.getName());
    private static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    private static final int KVM_SYSTEM_EVENT_RESET = 2;

    private enum Command { RESUME, PAUSE, FINISH }

    private final VcpuFd fd;
    private final Bus pio;
    private final Bus mmio;
    private final Consumer<VmExit> exits;
    private final KickSignal kick = KickSignal.instance();
    private final LinkedBlockingQueue<Command> commands = new LinkedBlockingQueue<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private final Object stateLock = new Object();
    private VcpuState state = VcpuState.PAUSED;
    private volatile int tid;
    private volatile Throwable startFailure;
    private Thread thread;

    private volatile long firstRunNanos;
    private volatile long firstExitNanos;
    private volatile long pioExits;
    private volatile long mmioExits;
    private volatile long otherExits;
    private volatile long interruptions;
    private volatile long unclaimed;

    public Vcpu(VcpuFd fd, Bus pio, Bus mmio, Consumer<VmExit> exits) {
        this.fd = fd;
        this.pio = pio;
        this.mmio = mmio;
        this.exits = exits;
    }

    public int id() {
        return fd.id();
    }

    /** Starts the thread and waits until it can be kicked; the vCPU is then Paused. */
    public synchronized void start() {
        if (thread != null) {
            throw new InvalidStateException("vCPU " + id() + " was already started");
        }
        thread = Thread.ofPlatform().name("boxlite-vcpu-" + id()).daemon(true).start(this::threadMain);
        try {
            ready.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            finish();
            throw new InvalidStateException("interrupted while starting vCPU " + id());
        }
        if (startFailure != null) {
            throw new InvalidStateException("vCPU " + id() + " thread failed to start: " + startFailure.getMessage(),
                    startFailure);
        }
    }

    /** Lets the guest run. */
    public void resume() {
        send(Command.RESUME);
    }

    /** Stops running the guest, keeping its state; returns at once (see {@link #awaitState}). */
    public void pause() {
        send(Command.PAUSE);
    }

    /** Ends the thread, from any state; returns at once (see {@link #awaitFinished}). */
    public void finish() {
        send(Command.FINISH);
    }

    private void send(Command command) {
        commands.add(command);
        kick();
    }

    /** Interrupts {@code KVM_RUN} now, or makes the next one return at once. */
    private void kick() {
        fd.requestImmediateExit(true);
        int t = tid;
        if (t != 0 && state() != VcpuState.FINISHED) {
            kick.send(t);
        }
    }

    public VcpuState state() {
        synchronized (stateLock) {
            return state;
        }
    }

    /** Waits until the vCPU reaches {@code wanted}; false on timeout. */
    public boolean awaitState(VcpuState wanted, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (stateLock) {
            while (state != wanted) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || state == VcpuState.FINISHED) {
                    return state == wanted;
                }
                TimeUnit.NANOSECONDS.timedWait(stateLock, left);
            }
            return true;
        }
    }

    /** Waits for the thread to end; false on timeout. */
    public boolean awaitFinished(Duration timeout) throws InterruptedException {
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t == null) {
            return true;
        }
        return t.join(timeout);
    }

    public VcpuStats stats() {
        return new VcpuStats(id(), firstRunNanos, firstExitNanos, pioExits, mmioExits, otherExits, interruptions,
                unclaimed);
    }

    /** The kernel thread id of the vCPU thread (0 before {@link #start()}). */
    public int threadId() {
        return tid;
    }

    private void setState(VcpuState next) {
        synchronized (stateLock) {
            state = next;
            stateLock.notifyAll();
        }
    }

    private void threadMain() {
        try {
            kick.blockInCurrentThread();
            fd.setSignalMask(kick.kvmRunMask());
            tid = Libc.gettid();
        } catch (RuntimeException e) {
            startFailure = e;
            setState(VcpuState.FINISHED);
            ready.countDown();
            return;
        }
        ready.countDown();
        try {
            loop();
        } catch (InterruptedException e) {
            LOG.log(System.Logger.Level.DEBUG, "vCPU {0} interrupted; finishing", id());
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "vCPU " + id() + " failed", e);
            exits.accept(new VmExit.Failed(id(), e.toString()));
        } finally {
            setState(VcpuState.FINISHED);
        }
    }

    private void loop() throws InterruptedException {
        VcpuState current = VcpuState.PAUSED;
        while (true) {
            Command c = current == VcpuState.PAUSED ? commands.take() : commands.poll();
            if (c != null) {
                switch (c) {
                    case FINISH -> {
                        return;
                    }
                    case PAUSE -> current = VcpuState.PAUSED;
                    case RESUME -> current = VcpuState.RUNNING;
                }
                setState(current);
                continue;
            }
            if (!runOnce()) {
                return;
            }
        }
    }

    /** One KVM_RUN and its exit; false when the vCPU must finish. */
    private boolean runOnce() {
        if (firstRunNanos == 0) {
            firstRunNanos = System.nanoTime();
        }
        VcpuExit exit = fd.run();
        if (firstExitNanos == 0 && !(exit instanceof VcpuExit.Interrupted)) {
            firstExitNanos = System.nanoTime();
        }
        switch (exit) {
            case VcpuExit.IoIn in -> {
                pioExits++;
                byte[] value = new byte[in.size()];
                for (int i = 0; i < in.count(); i++) {
                    if (!dispatchRead(pio, in.port(), value)) {
                        java.util.Arrays.fill(value, (byte) 0xFF); // an empty ISA bus reads as all ones
                    }
                    MemorySegment.copy(value, 0, in.data(), ValueLayout.JAVA_BYTE, (long) i * in.size(), in.size());
                }
            }
            case VcpuExit.IoOut out -> {
                pioExits++;
                for (int i = 0; i < out.count(); i++) {
                    byte[] value = java.util.Arrays.copyOfRange(out.data(), i * out.size(), (i + 1) * out.size());
                    dispatchWrite(pio, out.port(), value);
                }
            }
            case VcpuExit.MmioRead read -> {
                mmioExits++;
                byte[] value = new byte[Math.toIntExact(read.data().byteSize())];
                if (!dispatchRead(mmio, read.address(), value)) {
                    java.util.Arrays.fill(value, (byte) 0xFF);
                }
                MemorySegment.copy(value, 0, read.data(), ValueLayout.JAVA_BYTE, 0, value.length);
            }
            case VcpuExit.MmioWrite write -> {
                mmioExits++;
                dispatchWrite(mmio, write.address(), write.data());
            }
            case VcpuExit.Interrupted ignored -> {
                interruptions++;
                fd.requestImmediateExit(false);
                kick.drainCurrentThread();
            }
            case VcpuExit.Hlt ignored -> {
                return stop(new VmExit.GuestHalted(id()));
            }
            case VcpuExit.Shutdown ignored -> {
                return stop(new VmExit.GuestShutdown(id()));
            }
            case VcpuExit.SystemEvent e -> {
                return stop(e.type() == KVM_SYSTEM_EVENT_RESET || e.type() == KVM_SYSTEM_EVENT_SHUTDOWN
                        ? new VmExit.GuestReset() : new VmExit.SystemEvent(id(), e.type()));
            }
            case VcpuExit.FailEntry f -> {
                return stop(new VmExit.Failed(id(), "KVM_EXIT_FAIL_ENTRY: the CPU refused to enter the guest "
                        + "(hardware reason 0x" + Long.toHexString(f.hardwareReason()) + ")"));
            }
            case VcpuExit.InternalError e -> {
                return stop(new VmExit.Failed(id(), internalError(e)));
            }
            case VcpuExit.Other o -> {
                return stop(new VmExit.Failed(id(), "unhandled KVM exit reason " + o.reason()));
            }
        }
        return true;
    }

    private boolean stop(VmExit exit) {
        otherExits++;
        exits.accept(exit);
        return false;
    }

    private String internalError(VcpuExit.InternalError e) {
        StringBuilder s = new StringBuilder("KVM_EXIT_INTERNAL_ERROR (suberror ").append(e.suberror());
        if (e.suberror() == 1) {
            s.append(", emulation failure: KVM could not emulate a guest instruction");
        }
        s.append(")");
        if (e.data().length > 0) {
            s.append(", data");
            for (long d : e.data()) {
                s.append(" 0x").append(Long.toHexString(d));
            }
        }
        try {
            s.append(", rip 0x").append(Long.toHexString(fd.regs().rip()));
        } catch (RuntimeException ignored) {
            // best effort
        }
        return s.toString();
    }

    private boolean dispatchRead(Bus bus, long address, byte[] value) {
        try {
            if (bus.read(address, value)) {
                return true;
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "vCPU " + id() + ": " + bus + " read at 0x"
                    + Long.toHexString(address) + " failed", e);
            return false;
        }
        unclaimed++;
        if (LOG.isLoggable(System.Logger.Level.TRACE)) { // guests probe absent ports often: no garbage then
            LOG.log(System.Logger.Level.TRACE, "vCPU {0}: unclaimed read of {1} bytes at 0x{2} on {3}", id(),
                    value.length, Long.toHexString(address), bus);
        }
        return false;
    }

    private void dispatchWrite(Bus bus, long address, byte[] value) {
        try {
            if (bus.write(address, value)) {
                return;
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "vCPU " + id() + ": " + bus + " write at 0x"
                    + Long.toHexString(address) + " failed", e);
            return;
        }
        unclaimed++;
        if (LOG.isLoggable(System.Logger.Level.TRACE)) {
            LOG.log(System.Logger.Level.TRACE, "vCPU {0}: unclaimed write of {1} bytes at 0x{2} on {3}", id(),
                    value.length, Long.toHexString(address), bus);
        }
    }
}
