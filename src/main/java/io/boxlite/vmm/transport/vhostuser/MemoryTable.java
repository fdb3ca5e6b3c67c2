package io.boxlite.vmm.transport.vhostuser;

import io.boxlite.sys.Fd;
import io.boxlite.sys.MemoryMapping;
import io.boxlite.vmm.memory.GuestAddress;
import io.boxlite.vmm.memory.GuestMemory;
import io.boxlite.vmm.memory.GuestRegion;
import io.boxlite.vmm.transport.vhostuser.Message.ProtocolException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The front-end's guest RAM, mapped from the descriptors of SET_MEM_TABLE. Ring addresses in
 * vhost-user are the front-end's own virtual addresses; {@link #toGuestPhysical} turns them into
 * guest-physical addresses, which is what descriptors hold and what {@link GuestMemory} takes.
 */
final class MemoryTable implements AutoCloseable {
    static final int MAX_REGIONS = 8;

    private record Region(long guestPhys, long size, long userAddr) {
    }

    private final Arena arena;
    private final List<Region> regions;
    private final GuestMemory memory;

    private MemoryTable(Arena arena, List<Region> regions, GuestMemory memory) {
        this.arena = arena;
        this.regions = regions;
        this.memory = memory;
    }

    /** Maps every region of a SET_MEM_TABLE message; the descriptors are closed afterwards. */
    static MemoryTable map(Message m) throws ProtocolException {
        ByteBuffer b = m.body(8);
        long count = Integer.toUnsignedLong(b.getInt());
        b.getInt(); // padding
        if (count < 1 || count > MAX_REGIONS) {
            throw new ProtocolException("SET_MEM_TABLE with " + count + " regions (1.." + MAX_REGIONS + " allowed)");
        }
        if (m.fds().size() != count) {
            throw new ProtocolException("SET_MEM_TABLE names " + count + " regions but carries " + m.fds().size() + " descriptors");
        }
        m.body(8 + Math.toIntExact(count) * 32);
        Arena arena = Arena.ofShared();
        try {
            List<Region> regions = new ArrayList<>();
            List<GuestRegion> guest = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long gpa = b.getLong();
                long size = b.getLong();
                long userAddr = b.getLong();
                long mmapOffset = b.getLong();
                if (size <= 0 || mmapOffset < 0 || size > Long.MAX_VALUE - mmapOffset) {
                    throw new ProtocolException("SET_MEM_TABLE region " + i + " has size " + size + " at offset " + mmapOffset);
                }
                Fd fd = m.fds().get(i);
                long page = 4096;
                long mapStart = mmapOffset & -page; // mmap offsets must be page-aligned
                long mapLength = ((mmapOffset + size - mapStart) + page - 1) & -page;
                MemorySegment mapped = MemoryMapping.shared(fd.value(), mapStart, mapLength, arena);
                guest.add(new GuestRegion(GuestAddress.of(gpa), mapped.asSlice(mmapOffset - mapStart, size)));
                regions.add(new Region(gpa, size, userAddr));
            }
            GuestMemory memory = GuestMemory.of(guest); // rejects overlapping regions
            return new MemoryTable(arena, List.copyOf(regions), memory);
        } catch (IllegalArgumentException | io.boxlite.BoxliteException e) {
            arena.close();
            throw new ProtocolException("SET_MEM_TABLE cannot be mapped: " + e.getMessage());
        } catch (ProtocolException | RuntimeException e) {
            arena.close();
            throw e;
        } finally {
            m.fds().forEach(Fd::close); // mappings keep the memory; the descriptors are not needed
        }
    }

    GuestMemory memory() {
        return memory;
    }

    /** The guest-physical address of front-end virtual address {@code userAddr}. */
    long toGuestPhysical(long userAddr, String what) throws ProtocolException {
        for (Region r : regions) {
            long offset = userAddr - r.userAddr();
            if (Long.compareUnsigned(userAddr, r.userAddr()) >= 0 && Long.compareUnsigned(offset, r.size()) < 0) {
                return r.guestPhys() + offset;
            }
        }
        throw new ProtocolException(what + " at front-end address 0x" + Long.toHexString(userAddr)
                + " is not in any memory region");
    }

    /** Unmaps the regions. Queues must no longer use {@link #memory()}. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
