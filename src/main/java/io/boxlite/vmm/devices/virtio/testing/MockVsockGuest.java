package io.boxlite.vmm.devices.virtio.testing;

import io.boxlite.vmm.devices.virtio.VirtioFeatures;
import io.boxlite.vmm.devices.virtio.Virtqueue;
import io.boxlite.vmm.devices.virtio.vsock.VsockDevice;
import io.boxlite.vmm.devices.virtio.vsock.VsockHeader;
import io.boxlite.vmm.devices.virtio.vsock.VsockHost;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The guest's virtio-vsock driver for tests and benchmarks: sets up the three queues, keeps rx
 * buffers posted (44 + 4096 bytes each, as Linux does), sends packets on tx and receives what
 * the device writes, kicking only when the device's avail_event asks for it. Connection logic
 * (credit, state) is the caller's. Single-threaded use. Not used by the VMM.
 */
public final class MockVsockGuest {
    public static final int RX_BUFFER = VsockHeader.SIZE + 4096;

    /** A packet the device delivered. */
    public record Packet(VsockHeader header, byte[] payload) {
    }

    private final GuestMemory memory;
    private final GuestHeap heap;
    private final VsockDevice device;
    private final boolean eventIdx;
    private final MockSplitQueue rx;
    private final MockSplitQueue tx;
    private final RecordingInterrupt irq = new RecordingInterrupt();
    private final Map<Integer, GuestAddress> rxBuffers = new HashMap<>();
    private final Map<Integer, GuestAddress> txBuffers = new HashMap<>();

    /** Activates {@code device} with {@code rxBuffers} receive buffers posted. */
    public MockVsockGuest(GuestHeap heap, VsockDevice device, long features, int rxBuffers) {
        this.heap = heap;
        this.memory = heap.memory();
        this.device = device;
        device.ackFeatures(features);
        this.eventIdx = VirtioFeatures.has(device.ackedFeatures(), VirtioFeatures.RING_EVENT_IDX);
        this.rx = new MockSplitQueue(heap, VsockDevice.QUEUE_SIZE);
        this.tx = new MockSplitQueue(heap, VsockDevice.QUEUE_SIZE);
        MockSplitQueue ev = new MockSplitQueue(heap, VsockDevice.QUEUE_SIZE);
        List<Virtqueue> queues = new ArrayList<>();
        for (MockSplitQueue m : List.of(rx, tx, ev)) {
            Virtqueue q = new Virtqueue(VsockDevice.QUEUE_SIZE);
            m.configure(q);
            q.activate(memory, device.ackedFeatures());
            queues.add(q);
        }
        for (int i = 0; i < rxBuffers; i++) {
            GuestAddress b = heap.alloc(RX_BUFFER);
            this.rxBuffers.put(rx.offer(List.of(MockSplitQueue.Buffer.writable(b, RX_BUFFER))), b);
        }
        device.activate(memory, queues, irq);
    }

    public RecordingInterrupt interrupt() {
        return irq;
    }

    public MockSplitQueue txQueue() {
        return tx;
    }

    public GuestHeap heap() {
        return heap;
    }

    /** A header from this guest to the host. */
    public VsockHeader header(int srcPort, int dstPort, int op, int flags, int len, int bufAlloc, int fwdCnt) {
        return new VsockHeader(device.guestCid(), VsockHost.HOST_CID, srcPort, dstPort, len, VsockHeader.TYPE_STREAM, op, flags, bufAlloc, fwdCnt);
    }

    /** Sends header + payload as one readable buffer. */
    public void send(VsockHeader h, byte[] payload) {
        byte[] raw = h.encode();
        if (payload != null && payload.length > 0) {
            byte[] all = new byte[raw.length + payload.length];
            System.arraycopy(raw, 0, all, 0, raw.length);
            System.arraycopy(payload, 0, all, raw.length, payload.length);
            raw = all;
        }
        sendRaw(raw);
    }

    /** Sends arbitrary bytes as one tx packet (for malformed-packet tests). */
    public void sendRaw(byte[] bytes) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (reapTx() >= VsockDevice.QUEUE_SIZE) {
            // the tx ring is full: wait for the device to consume some
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the device consumed no tx packet for 10 s");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
        GuestAddress b = heap.alloc(Math.max(1, bytes.length));
        memory.write(b, bytes);
        int old = tx.availIdx();
        txBuffers.put(tx.offer(List.of(MockSplitQueue.Buffer.readable(b, bytes.length))), b);
        if (tx.needsKick(old, tx.availIdx(), eventIdx)) {
            device.queueNotify(VsockDevice.TX);
        }
    }

    /** Frees tx buffers the device has consumed; returns how many are still outstanding. */
    public int reapTx() {
        for (MockSplitQueue.Used u = tx.pollUsed(); u != null; u = tx.pollUsed()) {
            GuestAddress b = txBuffers.remove(u.head());
            if (b != null) {
                heap.free(b);
            }
        }
        return txBuffers.size();
    }

    /** The next packet the device sent, waiting up to {@code timeoutMillis}; null on timeout. */
    public Packet receive(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (true) {
            MockSplitQueue.Used u = rx.pollUsed();
            if (u != null) {
                return take(u);
            }
            rx.setUsedEvent(rx.lastUsed()); // interrupt me on the next used entry
            u = rx.pollUsed();
            if (u != null) {
                return take(u);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            irq.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)), TimeUnit.NANOSECONDS);
        }
    }

    private Packet take(MockSplitQueue.Used u) {
        GuestAddress b = rxBuffers.remove(u.head());
        if (b == null) {
            throw new IllegalStateException("device used rx head " + u.head() + " that was not posted");
        }
        if (u.length() < VsockHeader.SIZE || u.length() > RX_BUFFER) {
            throw new IllegalStateException("device wrote " + u.length() + " bytes into a " + RX_BUFFER + "-byte rx buffer");
        }
        byte[] raw = memory.read(b, u.length());
        VsockHeader h = VsockHeader.decode(raw);
        if (Integer.toUnsignedLong(h.len()) != u.length() - VsockHeader.SIZE) {
            throw new IllegalStateException("header len " + h.len() + " disagrees with used length " + u.length());
        }
        byte[] payload = java.util.Arrays.copyOfRange(raw, VsockHeader.SIZE, u.length());
        int old = rx.availIdx();
        rxBuffers.put(rx.offer(List.of(MockSplitQueue.Buffer.writable(b, RX_BUFFER))), b);
        if (rx.needsKick(old, rx.availIdx(), eventIdx)) {
            device.queueNotify(VsockDevice.RX);
        }
        return new Packet(h, payload);
    }
}
