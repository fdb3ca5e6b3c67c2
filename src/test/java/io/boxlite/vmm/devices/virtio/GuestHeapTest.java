package io.boxlite.vmm.devices.virtio;

import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

class GuestHeapTest {
    @Test
    void liveAllocationsNeverOverlapUnderRandomAllocAndFree() {
        try (GuestMemory mem = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), 1 << 20)))) {
            GuestHeap heap = new GuestHeap(mem, GuestAddress.of(0), 1 << 20);
            Random rnd = new Random(5);
            TreeMap<Long, Long> live = new TreeMap<>();
            List<Long> order = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                if (!order.isEmpty() && (rnd.nextBoolean() || live.size() > 200)) {
                    long at = order.remove(rnd.nextInt(order.size()));
                    live.remove(at);
                    heap.free(GuestAddress.of(at));
                } else {
                    long len = 1 + rnd.nextInt(3000);
                    long at = heap.alloc(len).value();
                    var below = live.floorEntry(at + len - 1);
                    assertTrue(below == null || below.getKey() + below.getValue() <= at, "overlap at " + at);
                    live.put(at, len);
                    order.add(at);
                }
            }
        }
    }
}
