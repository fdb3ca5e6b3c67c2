package io.boxlite.vmm.arch.x86_64;

import io.boxlite.kvm.VcpuFd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Local APIC boot setup: LINT0 delivers ExtINT (the PIC), LINT1 delivers NMI, as on a PC. */
public final class Lapic {
    private Lapic() {
    }

    static final int LVT_LINT0 = 0x350;
    static final int LVT_LINT1 = 0x360;
    static final int DELIVERY_MODE_MASK = 0x700;
    static final int EXTINT = 7;
    static final int NMI = 4;

    public static void configure(VcpuFd vcpu) {
        byte[] regs = vcpu.lapic();
        ByteBuffer b = ByteBuffer.wrap(regs).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(LVT_LINT0, withDeliveryMode(b.getInt(LVT_LINT0), EXTINT));
        b.putInt(LVT_LINT1, withDeliveryMode(b.getInt(LVT_LINT1), NMI));
        vcpu.setLapic(regs);
    }

    static int withDeliveryMode(int lvt, int mode) {
        return (lvt & ~DELIVERY_MODE_MASK) | (mode << 8);
    }
}
