package io.boxlite.vmm.devices.virtio.vsock;

import io.boxlite.InvalidArgumentException;
import io.boxlite.InvalidStateException;
import io.boxlite.vmm.devices.virtio.Descriptor;
import io.boxlite.vmm.devices.virtio.DescriptorChain;
import io.boxlite.vmm.devices.virtio.Features;
import io.boxlite.vmm.devices.virtio.GuestBuffers;
import io.boxlite.vmm.devices.virtio.Interrupt;
import io.boxlite.vmm.devices.virtio.VirtioDevice;
import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.devices.virtio.VirtqueueException;
import io.boxlite.vmm.devices.virtio.WakeSignal;
import io.boxlite.vmm.memory.GuestMemory;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * virtio-vsock (device type 19): stream sockets between host and guest without a network.
 * Queues: 0 rx (device → guest), 1 tx (guest → device), 2 event. The host end is
 * {@link #host()}.
 *
 * <p>Two virtual threads per activation: the tx worker drains guest packets, validates each
 * header (44 bytes; src_cid = the guest's cid, dst_cid = 2, type STREAM, a known op, len at most
 * {@value #MAX_PAYLOAD} and present in the chain) and hands it to {@link VsockHost}; the rx pump
 * writes queued control packets and connection data into the guest's rx buffers, respecting the
 * guest's credit. A packet with a wrong cid is dropped; other malformed packets are answered
 * with RST for the connection they name; neither disturbs other connections.
 *
 * {@snippet :
 * VsockDevice vsock = new VsockDevice(3);
 * try (VsockConnection c = vsock.host().connect(52)) { … }
 * }
 */
public final class VsockDevice implements VirtioDevice {
    private static final System.Logger LOG = System.getLogger(VsockDevice.class.getName());

    public static final int TYPE = 19;
    public static final int RX = 0;
    public static final int TX = 1;
    public static final int EVENT = 2;
    public static final int QUEUE_SIZE = 256;
    /** Largest payload of one packet, either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
    public static final int MAX_PAYLOAD = 64 * 1024;

    private final long guestCid;
    private final Features features = new Features("virtio-vsock", VirtioFeatures.COMMON);
    private final VsockMetrics metrics = new VsockMetrics();
    private final VsockHost host;
    private Running running;

    /**
     * @param guestCid the guest's context id: 3 .. 2^32-2 (0–2 and -1 are reserved)
     */
    public VsockDevice(long guestCid) {
        if (guestCid < 3 || guestCid > 0xffff_fffeL) {
            throw new InvalidArgumentException("guest vsock CID " + guestCid + " is outside 3..4294967294 (0, 1, 2 and -1 are reserved)");
        }
        this.guestCid = guestCid;
        this.host = new VsockHost(guestCid, metrics);
    }

    /** The host end: listen for and open connections. */
    public VsockHost host() {
        return host;
    }

    public VsockMetrics metrics() {
        return metrics;
    }

    public long guestCid() {
        return guestCid;
    }

    @Override
    public int deviceType() {
        return TYPE;
    }

    @Override
    public long availFeatures() {
        return features.available();
    }

    @Override
    public long ackedFeatures() {
        return features.acked();
    }

    @Override
    public void ackFeatures(long f) {
        features.ack(f);
    }

    @Override
    public List<Integer> queueMaxSizes() {
        return List.of(QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE);
    }

    @Override
    public int configSize() {
        return 8;
    }

    @Override
    public void readConfig(long offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            long at = offset + i;
            data[i] = at >= 0 && at < 8 ? (byte) (guestCid >>> (8 * at)) : 0;
        }
    }

    @Override
    public void writeConfig(long offset, byte[] data) {
        LOG.log(Level.DEBUG, "virtio-vsock: driver wrote read-only config at {0}; ignored", offset);
    }

    @Override
    public synchronized void activate(GuestMemory memory, List<Virtqueue> queues, Interrupt interrupt) {
        if (running != null) {
            throw new InvalidStateException("virtio-vsock is already active; reset it first");
        }
        if (queues.size() != 3) {
            throw new IllegalArgumentException("virtio-vsock has 3 queues, got " + queues.size());
        }
        running = new Running(memory, queues.get(RX), queues.get(TX), interrupt);
        host.start();
        running.start();
    }

    @Override
    public synchronized boolean active() {
        return running != null;
    }

    @Override
    public void queueNotify(int queue) {
        Running r;
        synchronized (this) {
            r = running;
        }
        if (r == null) {
            return;
        }
        switch (queue) {
            case RX -> host.pumpSignal().signal();
            case TX -> r.txKick.signal();
            default -> { } // event queue: buffers are kept for transport-reset events, which we never send
        }
    }

    @Override
    public synchronized void reset() {
        if (running != null) {
            running.stop();
            running = null;
        }
        host.stop("vsock device reset by the guest driver");
        features.reset();
    }

    private final class Running {
        private final GuestMemory memory;
        private final Virtqueue rxq;
        private final Virtqueue txq;
        private final Interrupt interrupt;
        private final WakeSignal txKick = new WakeSignal();
        private volatile boolean stopping;
        private Thread pumpThread;
        private Thread txThread;

        Running(GuestMemory memory, Virtqueue rxq, Virtqueue txq, Interrupt interrupt) {
            this.memory = memory;
            this.rxq = rxq;
            this.txq = txq;
            this.interrupt = interrupt;
        }

        void start() {
            txThread = Thread.ofVirtual().name("boxlite-vsock-tx").start(() -> loop(TX, txKick, this::drainTx));
            pumpThread = Thread.ofVirtual().name("boxlite-vsock-rx").start(() -> loop(RX, host.pumpSignal(), this::fillRx));
            txKick.signal();
            host.pumpSignal().signal();
        }

        private interface Work {
            void run() throws VirtqueueException;
        }

        private void loop(int queue, WakeSignal signal, Work work) {
            try {
                while (!stopping) {
                    signal.await();
                    if (!stopping) {
                        work.run();
                    }
                }
            } catch (InterruptedException e) {
                // stop()
            } catch (VirtqueueException e) {
                interrupt.needsReset(queue, "virtio-vsock: " + e.getMessage());
            } catch (RuntimeException e) {
                if (!stopping) {
                    LOG.log(Level.ERROR, "virtio-vsock: queue " + queue + " worker failed; the device needs a reset", e);
                    interrupt.needsReset(queue, "virtio-vsock: internal error: " + e);
                }
            }
        }

        private void drainTx() throws VirtqueueException {
            if (!txq.active()) {
                return;
            }
            txq.drain(chain -> {
                handleTx(chain);
                txq.addUsed(chain.headIndex(), 0);
            });
            if (txq.needsNotification()) {
                interrupt.signalUsed(TX);
            }
        }

        private void handleTx(DescriptorChain chain) {
            metrics.packetsFromGuest.increment();
            List<Descriptor> ds;
            try {
                ds = chain.collect();
            } catch (VirtqueueException e) {
                malformed("tx chain: " + e.getMessage());
                return;
            }
            if (ds.stream().anyMatch(Descriptor::writable)) {
                malformed("tx chain has device-writable buffers");
                return;
            }
            GuestBuffers b = new GuestBuffers(memory, ds);
            if (b.length() < VsockHeader.SIZE) {
                malformed("tx packet of " + b.length() + " bytes is shorter than the 44-byte header");
                return;
            }
            VsockHeader h = VsockHeader.decode(b.read(0, VsockHeader.SIZE));
            if (h.srcCid() != guestCid || h.dstCid() != VsockHost.HOST_CID) {
                malformed("cid " + h.srcCid() + " -> " + h.dstCid() + " instead of " + guestCid + " -> 2; dropped");
                return;
            }
            if (h.type() != VsockHeader.TYPE_STREAM) {
                host.reject(h, "socket type " + h.type() + " (only STREAM is supported)");
                return;
            }
            if (h.op() < VsockHeader.OP_REQUEST || h.op() > VsockHeader.OP_CREDIT_REQUEST) {
                host.reject(h, "unknown op " + h.op());
                return;
            }
            byte[] payload = null;
            if (h.op() == VsockHeader.OP_RW) {
                long len = Integer.toUnsignedLong(h.len());
                if (len > MAX_PAYLOAD || len > b.length() - VsockHeader.SIZE) {
                    host.reject(h, "len " + len + " exceeds " + Math.min(MAX_PAYLOAD, b.length() - VsockHeader.SIZE));
                    return;
                }
                payload = b.read(VsockHeader.SIZE, (int) len);
            }
            host.onPacket(h, payload);
        }

        private void malformed(String why) {
            metrics.malformedPackets.increment();
            LOG.log(Level.DEBUG, "virtio-vsock: {0}", why);
        }

        private void fillRx() throws VirtqueueException {
            if (!rxq.active()) {
                return;
            }
            boolean added = false;
            while (host.hasOutgoing()) {
                DescriptorChain chain = rxq.popChain();
                if (chain == null) {
                    if (rxq.enableNotification()) {
                        continue;
                    }
                    break; // the guest's rx kick wakes us
                }
                List<Descriptor> ds;
                try {
                    ds = chain.collect();
                } catch (VirtqueueException e) {
                    malformed("rx chain: " + e.getMessage());
                    added |= rxq.addUsed(chain.headIndex(), 0);
                    continue;
                }
                GuestBuffers b = new GuestBuffers(memory, ds);
                if (ds.stream().anyMatch(d -> !d.writable()) || b.length() < VsockHeader.SIZE) {
                    malformed("rx buffer is not a device-writable area of at least 44 bytes");
                    added |= rxq.addUsed(chain.headIndex(), 0);
                    continue;
                }
                VsockHost.Packet p = host.nextPacket((int) Math.min(MAX_PAYLOAD, b.length() - VsockHeader.SIZE));
                if (p == null) {
                    rxq.undoPop();
                    break;
                }
                if (p.payload() != null) {
                    b.write(VsockHeader.SIZE, p.payload());
                }
                b.write(0, p.header().encode());
                metrics.packetsToGuest.increment();
                added |= rxq.addUsed(chain.headIndex(), VsockHeader.SIZE + p.payloadLength());
            }
            if (added && rxq.needsNotification()) {
                interrupt.signalUsed(RX);
            }
        }

        void stop() {
            stopping = true;
            txKick.signal();
            host.pumpSignal().signal();
            for (Thread t : new Thread[] {txThread, pumpThread}) {
                try {
                    if (!t.join(java.time.Duration.ofSeconds(5))) {
                        t.interrupt();
                        t.join(TimeUnit.SECONDS.toMillis(5));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
