package io.boxlite.vmm.vstate;

import io.boxlite.InvalidArgumentException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class BusTest {
    record Access(long offset, int length) {
    }

    static final class Recorder implements BusDevice {
        final List<Access> reads = new ArrayList<>();
        final List<Access> writes = new ArrayList<>();

        @Override
        public void read(long offset, byte[] data) {
            reads.add(new Access(offset, data.length));
            data[0] = 0x42;
        }

        @Override
        public void write(long offset, byte[] data) {
            writes.add(new Access(offset, data.length));
        }
    }

    @Test
    void accessesGoToTheDeviceWithOffsetsRelativeToItsBase() {
        Bus bus = new Bus("MMIO");
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        bus.register(0xC000_1000L, 0x1000, a);
        bus.register(0xC000_2000L, 0x1000, b);
        byte[] data = new byte[4];
        assertTrue(bus.read(0xC000_2010L, data));
        assertEquals(0x42, data[0]);
        assertTrue(bus.write(0xC000_1FFCL, new byte[4]));
        assertEquals(List.of(new Access(0x10, 4)), b.reads);
        assertEquals(List.of(new Access(0xFFC, 4)), a.writes);
    }

    @Test
    void accessesOutsideOrStraddlingARangeAreUnclaimed() {
        Bus bus = new Bus("PIO");
        Recorder r = new Recorder();
        bus.register(0x3F8, 8, r);
        assertFalse(bus.write(0x3F7, new byte[1]));
        assertFalse(bus.write(0x400, new byte[1]));
        assertFalse(bus.write(0x3FE, new byte[4]), "straddles the end");
        assertTrue(r.writes.isEmpty());
        assertFalse(new Bus("empty").read(0, new byte[1]));
    }

    @Test
    void overlappingOrEmptyRegistrationsAreRefused() {
        Bus bus = new Bus("MMIO");
        bus.register(0x1000, 0x1000, new Recorder());
        assertThrows(InvalidArgumentException.class, () -> bus.register(0x1800, 0x1000, new Recorder()));
        assertThrows(InvalidArgumentException.class, () -> bus.register(0x0800, 0x1000, new Recorder()));
        assertThrows(InvalidArgumentException.class, () -> bus.register(0x0000, 0x3000, new Recorder()));
        assertThrows(InvalidArgumentException.class, () -> bus.register(0x5000, 0, new Recorder()));
        assertThrows(InvalidArgumentException.class, () -> bus.register(-16, 0x1000, new Recorder()));
        bus.register(0x2000, 0x1000, new Recorder()); // adjacent is fine
    }
}
