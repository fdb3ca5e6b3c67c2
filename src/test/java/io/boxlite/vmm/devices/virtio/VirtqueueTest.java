package io.boxlite.vmm.devices.virtio;

import io.boxlite.InvalidArgumentException;
import io.boxlite.vmm.devices.virtio.testing.GuestHeap;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue;
import io.boxlite.vmm.devices.virtio.testing.MockSplitQueue.Buffer;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class VirtqueueTest {
    private static final long MEM = 1 << 20;
    private static final long NO_EVENT_IDX = VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);

    private GuestMemory memory;
    private GuestHeap heap;
    private MockSplitQueue driver;
    private Virtqueue queue;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0), MEM)));
        heap = new GuestHeap(memory, GuestAddress.of(0x1000), MEM - 0x1000);
        driver = new MockSplitQueue(heap, 16);
        queue = new Virtqueue(16);
        driver.configure(queue);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private void activate(long features) {
        queue.activate(memory, features);
    }

    private VirtqueueException chainError() throws VirtqueueException {
        DescriptorChain c = queue.popChain();
        assertNotNull(c, "a chain was offered");
        return assertThrows(VirtqueueException.class, c::collect);
    }

    @Test
    void popsADirectChainInOrderAndPublishesTheUsedEntry() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(16);
        GuestAddress b = heap.alloc(512);
        GuestAddress c = heap.alloc(1);
        int head = driver.offer(List.of(Buffer.readable(a, 16), Buffer.writable(b, 512), Buffer.writable(c, 1)));

        DescriptorChain chain = queue.popChain();
        assertEquals(head, chain.headIndex());
        List<Descriptor> ds = chain.collect();
        assertEquals(List.of(new Descriptor(a, 16, false), new Descriptor(b, 512, true), new Descriptor(c, 1, true)), ds);
        assertNull(queue.popChain(), "only one chain was offered");

        assertTrue(queue.addUsed(head, 513));
        assertEquals(new MockSplitQueue.Used(head, 513), driver.pollUsed());
        assertNull(driver.pollUsed());
        assertEquals(16, driver.freeDescriptors(), "descriptors came back to the driver");
    }

    @Test
    void followsAnIndirectTable() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(100);
        GuestAddress b = heap.alloc(200);
        int head = driver.offerIndirect(List.of(Buffer.readable(a, 100), Buffer.writable(b, 200)));
        DescriptorChain chain = queue.popChain();
        assertEquals(head, chain.headIndex());
        GuestBuffers.Split split = chain.split();
        assertEquals(100, split.readable().length());
        assertEquals(200, split.writable().length());
    }

    @Test
    void rejectsAnIndirectTableWhenTheFeatureWasNotNegotiated() throws Exception {
        activate(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        driver.offerIndirect(List.of(Buffer.readable(heap.alloc(8), 8)));
        assertEquals(VirtqueueError.INDIRECT_NOT_NEGOTIATED, chainError().error());
    }

    @Test
    void rejectsABufferOutsideGuestMemory() throws Exception {
        activate(VirtioFeatures.COMMON);
        driver.offer(List.of(Buffer.readable(GuestAddress.of(MEM - 8), 16)));
        assertEquals(VirtqueueError.BUFFER_OUT_OF_RANGE, chainError().error());
    }

    @Test
    void rejectsABufferWhoseAddressWrapsPast2To64() throws Exception {
        activate(VirtioFeatures.COMMON);
        driver.writeDescriptor(0, -8L, 16, 0, 0);
        driver.publish(0);
        assertEquals(VirtqueueError.BUFFER_OUT_OF_RANGE, chainError().error());
    }

    @Test
    void catchesAChainThatLoopsBackOnItself() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(8);
        driver.writeDescriptor(3, a.value(), 8, MockSplitQueue.F_NEXT, 4);
        driver.writeDescriptor(4, a.value(), 8, MockSplitQueue.F_NEXT, 3);
        driver.publish(3);
        assertEquals(VirtqueueError.CHAIN_TOO_LONG, chainError().error());
    }

    @Test
    void catchesALoopInsideAnIndirectTable() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress table = heap.alloc(32);
        GuestAddress a = heap.alloc(8);
        driver.writeDescriptor(table, 0, a.value(), 8, MockSplitQueue.F_NEXT, 1);
        driver.writeDescriptor(table, 1, a.value(), 8, MockSplitQueue.F_NEXT, 0);
        driver.writeDescriptor(0, table.value(), 32, MockSplitQueue.F_INDIRECT, 0);
        driver.publish(0);
        assertEquals(VirtqueueError.CHAIN_TOO_LONG, chainError().error());
    }

    @Test
    void rejectsANextIndexOutsideTheTable() throws Exception {
        activate(VirtioFeatures.COMMON);
        driver.writeDescriptor(0, heap.alloc(8).value(), 8, MockSplitQueue.F_NEXT, 16);
        driver.publish(0);
        assertEquals(VirtqueueError.DESCRIPTOR_INDEX_OUT_OF_RANGE, chainError().error());
    }

    @Test
    void capsTheBytesOfOneChain() throws Exception {
        queue.setMaxChainBytes(4096);
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(4096);
        driver.offer(List.of(Buffer.readable(a, 4096), Buffer.writable(a, 1)));
        assertEquals(VirtqueueError.CHAIN_TOO_LARGE, chainError().error());
    }

    @Test
    void rejectsNestedIndirectTables() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress inner = heap.alloc(16);
        GuestAddress outer = heap.alloc(16);
        driver.writeDescriptor(inner, 0, heap.alloc(8).value(), 8, 0, 0);
        driver.writeDescriptor(outer, 0, inner.value(), 16, MockSplitQueue.F_INDIRECT, 0);
        driver.writeDescriptor(0, outer.value(), 16, MockSplitQueue.F_INDIRECT, 0);
        driver.publish(0);
        assertEquals(VirtqueueError.NESTED_INDIRECT, chainError().error());
    }

    @Test
    void rejectsIndirectCombinedWithNext() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress table = heap.alloc(16);
        driver.writeDescriptor(0, table.value(), 16, MockSplitQueue.F_INDIRECT | MockSplitQueue.F_NEXT, 1);
        driver.publish(0);
        assertEquals(VirtqueueError.INDIRECT_WITH_NEXT, chainError().error());
    }

    @Test
    void rejectsIndirectTablesOfBadLength() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress table = heap.alloc(16 * 32);
        for (long len : new long[] {0, 17, 16L * 17}) {
            driver.writeDescriptor(0, table.value(), len, MockSplitQueue.F_INDIRECT, 0);
            driver.publish(0);
            assertEquals(VirtqueueError.BAD_INDIRECT_LENGTH, chainError().error(), "length " + len);
        }
    }

    @Test
    void rejectsAnIndirectTableOutsideGuestMemory() throws Exception {
        activate(VirtioFeatures.COMMON);
        driver.writeDescriptor(0, MEM - 16, 32, MockSplitQueue.F_INDIRECT, 0);
        driver.publish(0);
        assertEquals(VirtqueueError.INDIRECT_OUT_OF_RANGE, chainError().error());
    }

    @Test
    void rejectsAReadableBufferAfterAWritableOne() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(8);
        driver.offer(List.of(Buffer.writable(a, 8), Buffer.readable(a, 8)));
        assertEquals(VirtqueueError.READABLE_AFTER_WRITABLE, chainError().error());
    }

    @Test
    void aBadChainLeavesTheNextChainUsable() throws Exception {
        activate(VirtioFeatures.COMMON);
        driver.offer(List.of(Buffer.readable(GuestAddress.of(MEM), 1)));
        GuestAddress ok = heap.alloc(8);
        int good = driver.offer(List.of(Buffer.readable(ok, 8)));
        DescriptorChain bad = queue.popChain();
        assertThrows(VirtqueueException.class, bad::collect);
        queue.addUsed(bad.headIndex(), 0);
        DescriptorChain next = queue.popChain();
        assertEquals(good, next.headIndex());
        assertEquals(8, next.split().readable().length());
    }

    @Test
    void aHeadIndexOutsideTheQueueBreaksTheQueue() {
        activate(VirtioFeatures.COMMON);
        driver.publish(99);
        VirtqueueException e = assertThrows(VirtqueueException.class, queue::popChain);
        assertEquals(VirtqueueError.HEAD_OUT_OF_RANGE, e.error());
        assertTrue(e.error().breaksQueue());
    }

    @Test
    void anAvailIndexJumpingPastTheQueueSizeBreaksTheQueue() {
        activate(VirtioFeatures.COMMON);
        driver.setAvailIdx(17);
        VirtqueueException e = assertThrows(VirtqueueException.class, queue::popChain);
        assertEquals(VirtqueueError.AVAIL_INDEX_JUMP, e.error());
    }

    @Test
    void activationChecksSizeAlignmentAndPlacement() {
        queue.setSize(12);
        assertThrows(InvalidArgumentException.class, () -> activate(VirtioFeatures.COMMON), "not a power of two");
        queue.setSize(32);
        assertThrows(InvalidArgumentException.class, () -> activate(VirtioFeatures.COMMON), "above max");
        queue.setSize(16);
        queue.setDescTable(driver.descTable().value() + 8);
        assertThrows(InvalidArgumentException.class, () -> activate(VirtioFeatures.COMMON), "misaligned table");
        queue.setDescTable(driver.descTable().value());
        queue.setUsedRing(MEM - 16);
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> activate(VirtioFeatures.COMMON));
        assertTrue(e.getMessage().contains("used ring"), e.getMessage());
        queue.setUsedRing(driver.usedRing().value());
        queue.setReady(false);
        assertThrows(InvalidArgumentException.class, () -> activate(VirtioFeatures.COMMON), "not ready");
        queue.setReady(true);
        activate(VirtioFeatures.COMMON);
        assertTrue(queue.active());
    }

    @Test
    void withEventIdxNotifiesOnlyWhenUsedIdxPassesUsedEvent() {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(8);
        List<Integer> heads = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            heads.add(driver.offer(List.of(Buffer.readable(a, 8))));
        }
        driver.setUsedEvent(2); // interrupt me when entry 2 (the third) is used
        queue.addUsed(heads.get(0), 0);
        assertTrue(queue.needsNotification(), "the first notification always goes out");
        queue.addUsed(heads.get(1), 0);
        assertFalse(queue.needsNotification(), "used.idx 2 has not passed used_event 2");
        queue.addUsed(heads.get(2), 0);
        assertTrue(queue.needsNotification(), "used.idx 3 passed used_event 2");
        queue.addUsed(heads.get(3), 0);
        assertFalse(queue.needsNotification(), "used_event is behind; the driver has not asked again");
        assertFalse(queue.needsNotification(), "nothing new was added");
    }

    @Test
    void withoutEventIdxHonoursNoInterruptAndSetsNoNotify() throws Exception {
        activate(NO_EVENT_IDX);
        GuestAddress a = heap.alloc(8);
        int h = driver.offer(List.of(Buffer.readable(a, 8)));
        queue.addUsed(h, 0);
        assertTrue(queue.needsNotification());
        driver.setAvailFlags(1);
        assertFalse(queue.needsNotification());
        queue.disableNotification();
        assertEquals(1, driver.usedFlags());
        assertTrue(queue.enableNotification(), "one chain is still available");
        assertEquals(0, driver.usedFlags());
    }

    @Test
    void enablingNotificationPublishesAvailEventAndReportsLateArrivals() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(8);
        driver.offer(List.of(Buffer.readable(a, 8)));
        driver.offer(List.of(Buffer.readable(a, 8)));
        queue.popChain();
        assertTrue(queue.enableNotification());
        assertEquals(1, driver.availEvent(), "kick me when entry 1 is added");
        queue.popChain();
        assertFalse(queue.enableNotification());
        assertEquals(2, driver.availEvent());
    }

    @Test
    void theDrainLoopPicksUpChainsAddedWhileHandling() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(8);
        driver.offer(List.of(Buffer.readable(a, 8)));
        List<Integer> seen = new ArrayList<>();
        queue.drain(chain -> {
            seen.add(chain.headIndex());
            if (seen.size() < 3) {
                driver.offer(List.of(Buffer.readable(a, 8)));
            }
            queue.addUsed(chain.headIndex(), 0);
        });
        assertEquals(3, seen.size());
        assertFalse(queue.hasAvailable());
    }

    @Test
    void indicesWrapAround65536() throws Exception {
        activate(VirtioFeatures.COMMON);
        GuestAddress a = heap.alloc(8);
        for (int i = 0; i < 70_000; i++) {
            int h = driver.offer(List.of(Buffer.readable(a, 8)));
            DescriptorChain c = queue.popChain();
            assertEquals(h, c.headIndex());
            queue.addUsed(h, i & 0xff);
            assertEquals(new MockSplitQueue.Used(h, i & 0xff), driver.pollUsed());
        }
        assertEquals(70_000 & 0xffff, queue.nextUsed());
    }

    @Test
    void completionsAfterAResetAreDropped() throws Exception {
        activate(VirtioFeatures.COMMON);
        int h = driver.offer(List.of(Buffer.readable(heap.alloc(8), 8)));
        queue.popChain();
        queue.reset();
        assertFalse(queue.addUsed(h, 0));
        assertNull(queue.popChain());
        assertEquals(0, driver.usedIdx());
    }
}
