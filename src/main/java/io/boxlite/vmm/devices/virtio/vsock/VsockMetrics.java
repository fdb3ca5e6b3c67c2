package io.boxlite.vmm.devices.virtio.vsock;

import java.util.concurrent.atomic.LongAdder;

/** Counters of one virtio-vsock device. */
public final class VsockMetrics {
    final LongAdder packetsFromGuest = new LongAdder();
    final LongAdder packetsToGuest = new LongAdder();
    final LongAdder bytesFromGuest = new LongAdder();
    final LongAdder bytesToGuest = new LongAdder();
    final LongAdder connectionsOpened = new LongAdder();
    final LongAdder resetsSent = new LongAdder();
    final LongAdder malformedPackets = new LongAdder();

    public long packetsFromGuest() {
        return packetsFromGuest.sum();
    }

    public long packetsToGuest() {
        return packetsToGuest.sum();
    }

    /** Stream payload bytes received from the guest. */
    public long bytesFromGuest() {
        return bytesFromGuest.sum();
    }

    /** Stream payload bytes sent to the guest. */
    public long bytesToGuest() {
        return bytesToGuest.sum();
    }

    public long connectionsOpened() {
        return connectionsOpened.sum();
    }

    public long resetsSent() {
        return resetsSent.sum();
    }

    /** Packets dropped or answered with RST because their header or chain was invalid. */
    public long malformedPackets() {
        return malformedPackets.sum();
    }

    @Override
    public String toString() {
        return "VsockMetrics[fromGuest=" + packetsFromGuest() + " pkts/" + bytesFromGuest() + " B, toGuest=" + packetsToGuest()
                + " pkts/" + bytesToGuest() + " B, connections=" + connectionsOpened() + ", rstSent=" + resetsSent()
                + ", malformed=" + malformedPackets() + "]";
    }
}
