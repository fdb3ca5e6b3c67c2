package io.boxlite.vmm.memory;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class GuestMemoryTest {
    private static GuestMemory twoRegions(Arena arena) {
        // [0x0, 0x1000) and [0x3000, 0x5000), with a hole between.
        return GuestMemory.of(List.of(
                new GuestRegion(GuestAddress.of(0x3000), arena.allocate(0x2000)),
                new GuestRegion(GuestAddress.of(0), arena.allocate(0x1000))));
    }

    @Test
    void readsAndWritesLittleEndianInsideARegion() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = twoRegions(arena);
            mem.writeInt(GuestAddress.of(0x3004), 0x11223344);
            assertEquals(0x44, mem.readByte(GuestAddress.of(0x3004)));
            assertEquals(0x11223344, mem.readInt(GuestAddress.of(0x3004)));
            mem.writeLong(GuestAddress.of(0xff8), -2L);
            assertEquals(-2L, mem.readLong(GuestAddress.of(0xff8)), "the last 8 bytes of a region are usable");
            assertEquals(0x3000, mem.size());
        }
    }

    @Test
    void rejectsEveryAccessThatLeavesGuestRam() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = twoRegions(arena);
            assertThrows(GuestMemoryException.class, () -> mem.readLong(GuestAddress.of(0xffc)), "crosses the end");
            assertThrows(GuestMemoryException.class, () -> mem.readByte(GuestAddress.of(0x1000)), "in the hole");
            assertThrows(GuestMemoryException.class, () -> mem.readByte(GuestAddress.of(0x5000)), "past the last region");
            assertThrows(GuestMemoryException.class, () -> mem.slice(GuestAddress.of(0x0), 0x4000), "spans two regions");
            assertThrows(GuestMemoryException.class, () -> mem.slice(GuestAddress.of(0x3000), -1), "negative length");
            assertThrows(GuestMemoryException.class, () -> mem.readLong(GuestAddress.of(-4L)), "wraps past 2^64");
            assertThrows(GuestMemoryException.class, () -> mem.slice(GuestAddress.of(0x3001), Long.MAX_VALUE));
            assertFalse(mem.isValid(GuestAddress.of(0x4fff), 2));
            assertTrue(mem.isValid(GuestAddress.of(0x4fff), 1));
        }
    }

    @Test
    void orderedRingIndexAccessNeedsAlignment() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = twoRegions(arena);
            mem.storeReleaseShort(GuestAddress.of(0x3002), (short) 0xBEEF);
            assertEquals((short) 0xBEEF, mem.loadAcquireShort(GuestAddress.of(0x3002)));
            assertThrows(GuestMemoryException.class, () -> mem.loadAcquireShort(GuestAddress.of(0x3003)));
        }
    }

    @Test
    void regionsMayNotOverlap() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(0x2000);
            MemorySegment b = arena.allocate(0x1000);
            assertThrows(IllegalArgumentException.class, () -> GuestMemory.of(List.of(
                    new GuestRegion(GuestAddress.of(0), a), new GuestRegion(GuestAddress.of(0x1000), b))));
        }
    }

    @Test
    void anonymousMemoryIsZeroedAndUnmappedOnClose() {
        GuestMemory mem = GuestMemory.anonymous(List.of(new GuestMemory.Range(GuestAddress.of(0x10_0000), 0x20_0000)));
        MemorySegment host = mem.slice(GuestAddress.of(0x10_0000), 8);
        assertEquals(0, mem.readLong(GuestAddress.of(0x2f_fff8)));
        mem.close();
        mem.close();
        assertThrows(IllegalStateException.class, () -> host.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0),
                "slices die with the mapping");
    }
}
