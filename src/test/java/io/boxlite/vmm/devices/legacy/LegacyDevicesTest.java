package io.boxlite.vmm.devices.legacy;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

class LegacyDevicesTest {
    private static byte[] b(int v) {
        return new byte[] {(byte) v};
    }

    private static int read(Serial8250 s, int offset) {
        byte[] d = new byte[1];
        s.read(offset, d);
        return Byte.toUnsignedInt(d[0]);
    }

    @Test
    void theUartSendsBytesToTheConsoleAndInterruptsWhenTheTransmitterEmptiesAsLinuxExpects() {
        ConsoleLog log = ConsoleLog.inMemory(64);
        AtomicInteger irqs = new AtomicInteger();
        Serial8250 s = new Serial8250(log, irqs::incrementAndGet);
        assertEquals(0x60, read(s, Serial8250.LSR), "transmitter empty");
        assertEquals(0x01, read(s, Serial8250.IIR_FCR), "no interrupt pending");
        s.write(Serial8250.IER, b(Serial8250.IER_THRI));
        assertEquals(1, irqs.get(), "enabling THRI with an empty THR interrupts");
        assertEquals(0x02, read(s, Serial8250.IIR_FCR));
        assertEquals(0x01, read(s, Serial8250.IIR_FCR), "reading IIR acknowledged it");
        for (byte c : "hi\n".getBytes(StandardCharsets.US_ASCII)) {
            s.write(Serial8250.DATA, new byte[] {c});
        }
        assertEquals(4, irqs.get());
        assertEquals("hi\n", log.tail());
    }

    @Test
    void theUartLoopbackAndDivisorLatchBehaveFor8250Probing() {
        ConsoleLog log = ConsoleLog.inMemory(64);
        Serial8250 s = new Serial8250(log, () -> { });
        s.write(Serial8250.MCR, b(0x10 | 0x0A)); // loopback, RTS, OUT2
        assertEquals(0x90, read(s, Serial8250.MSR) & 0xF0, "CTS and DCD from RTS and OUT2");
        s.write(Serial8250.DATA, b('x'));
        assertEquals("", log.tail(), "loopback output does not reach the console");
        s.write(Serial8250.LCR, b(0x80));
        s.write(Serial8250.DATA, b(0x01));
        assertEquals(0x01, read(s, Serial8250.DATA), "divisor latch");
    }

    @Test
    void theConsoleLogKeepsATailAndCapsTheStreamCopy() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ConsoleLog log = ConsoleLog.toStream(out, 10, 4)) {
            for (byte c : "0123456789abcdef".getBytes(StandardCharsets.US_ASCII)) {
                log.write(c);
            }
            assertEquals("cdef", log.tail());
            assertEquals(16, log.bytesWritten());
        }
        String copied = out.toString(StandardCharsets.US_ASCII);
        assertTrue(copied.startsWith("0123456789\n[boxlite: console output past 10 bytes dropped]"), copied);
        assertFalse(copied.contains("abc"));
    }

    @Test
    void onlyTheResetCommandOnTheCommandPortResets() {
        AtomicInteger resets = new AtomicInteger();
        I8042 kbd = new I8042(resets::incrementAndGet);
        kbd.write(0, b(0xFE));
        kbd.write(4, b(0xD1));
        assertEquals(0, resets.get());
        kbd.write(4, b(0xFE));
        assertEquals(1, resets.get());
    }

    @Test
    void theDonePortDecodesLittleEndianStatusesOfEachWidth() {
        AtomicInteger status = new AtomicInteger(-1);
        DebugExit port = new DebugExit(status::set);
        port.write(0, new byte[] {0x34, 0x12, 0, 0});
        assertEquals(0x1234, status.get());
        port.write(0, b(7));
        assertEquals(7, status.get());
    }

    @Test
    void theBootTimerRecordsBoundedMilestones() {
        BootTimer t = new BootTimer(System.nanoTime());
        t.write(0, new byte[] {(byte) BootTimer.BOOT_COMPLETE, 0, 0, 0});
        for (int i = 0; i < BootTimer.MAX_MILESTONES + 10; i++) {
            t.write(0, new byte[] {7, 1, 0, 0});
        }
        assertEquals(BootTimer.MAX_MILESTONES, t.milestones().size());
        assertEquals(123, t.milestones().getFirst().value());
        assertEquals(0x107, t.milestones().getLast().value());
    }
}
