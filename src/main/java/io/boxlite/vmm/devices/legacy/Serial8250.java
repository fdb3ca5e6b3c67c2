package io.boxlite.vmm.devices.legacy;

import io.boxlite.vmm.vstate.BusDevice;

/**
 * A 16550A-compatible UART for the guest console (COM1, 8 ports): transmit goes to a
 * {@link ConsoleLog}; the transmitter is always ready, with THR-empty and (never) receive
 * interrupts as Linux's 8250 driver expects, modem-status loopback for its probe, and no input.
 */
public final class Serial8250 implements BusDevice {
    static final int DATA = 0;          // RBR / THR, or DLL with DLAB
    static final int IER = 1;           // or DLM with DLAB
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    static final int IER_THRI = 0x02;
    static final int IIR_NONE = 0x01;
    static final int IIR_THRI = 0x02;
    static final int IIR_FIFO = 0xC0;
    static final int LCR_DLAB = 0x80;
    static final int LSR_THRE_TEMT = 0x60;
    static final int MCR_LOOP = 0x10;
    static final int MSR_DEFAULT = 0xB0; // DCD, DSR, CTS

    private final ConsoleLog console;
    private final InterruptLine irq;
    private int ier;
    private int lcr = 0x03;             // 8N1
    private int mcr = 0x08;             // OUT2
    private int fcr;
    private int scr;
    private int dll = 0x0C;             // 9600 baud
    private int dlm;
    private boolean thrEmptyPending;

    public Serial8250(ConsoleLog console, InterruptLine irq) {
        this.console = console;
        this.irq = irq;
    }

    @Override
    public void read(long offset, byte[] data) {
        int value;
        synchronized (this) {
            boolean dlab = (lcr & LCR_DLAB) != 0;
            value = switch ((int) offset) {
                case DATA -> dlab ? dll : 0;
                case IER -> dlab ? dlm : ier;
                case IIR_FCR -> iir();
                case LCR -> lcr;
                case MCR -> mcr;
                case LSR -> LSR_THRE_TEMT;
                case MSR -> msr();
                case SCR -> scr;
                default -> 0xFF;
            };
        }
        java.util.Arrays.fill(data, (byte) 0);
        data[0] = (byte) value;
    }

    private int iir() {
        int fifo = (fcr & 1) != 0 ? IIR_FIFO : 0;
        if (thrEmptyPending && (ier & IER_THRI) != 0) {
            thrEmptyPending = false; // reading IIR acknowledges THR empty
            return IIR_THRI | fifo;
        }
        return IIR_NONE | fifo;
    }

    private int msr() {
        if ((mcr & MCR_LOOP) == 0) {
            return MSR_DEFAULT;
        }
        // Loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD.
        return ((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4);
    }

    @Override
    public void write(long offset, byte[] data) {
        int value = Byte.toUnsignedInt(data[0]);
        boolean raise = false;
        byte out = 0;
        boolean emit = false;
        synchronized (this) {
            boolean dlab = (lcr & LCR_DLAB) != 0;
            switch ((int) offset) {
                case DATA -> {
                    if (dlab) {
                        dll = value;
                    } else {
                        if ((mcr & MCR_LOOP) == 0) {
                            out = (byte) value;
                            emit = true;
                        }
                        thrEmptyPending = true; // the byte left at once
                        raise = (ier & IER_THRI) != 0;
                    }
                }
                case IER -> {
                    if (dlab) {
                        dlm = value;
                    } else {
                        boolean thriNow = (value & IER_THRI) != 0 && (ier & IER_THRI) == 0;
                        ier = value & 0x0F;
                        if (thriNow) {
                            thrEmptyPending = true; // enabling THRI with an empty THR interrupts at once
                            raise = true;
                        }
                    }
                }
                case IIR_FCR -> fcr = value;
                case LCR -> lcr = value;
                case MCR -> mcr = value & 0x1F;
                case SCR -> scr = value;
                default -> {
                    // LSR and MSR are read-only
                }
            }
        }
        if (emit) {
            console.write(out);
        }
        if (raise) {
            irq.trigger();
        }
    }
}
