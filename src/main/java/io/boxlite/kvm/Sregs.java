package io.boxlite.kvm;

import io.boxlite.sys.gen.kvm_dtable;
import io.boxlite.sys.gen.kvm_sregs;

import java.lang.foreign.MemorySegment;

/**
 * Special registers of a vCPU ({@code struct kvm_sregs}): segments, descriptor tables, control
 * registers, EFER and the APIC base. The pending-interrupt bitmap is carried through unchanged.
 */
public record Sregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss, Segment tr,
                    Segment ldt, DescriptorTable gdt, DescriptorTable idt, long cr0, long cr2, long cr3, long cr4,
                    long cr8, long efer, long apicBase, long[] interruptBitmap) {

    public Sregs {
        interruptBitmap = interruptBitmap.clone();
    }

    @Override
    public long[] interruptBitmap() {
        return interruptBitmap.clone();
    }

    /** A copy with code and data segments, TR, GDT, IDT, CR0/3/4 and EFER replaced: what boot code sets. */
    public Sregs withBootState(Segment code, Segment data, Segment taskRegister, DescriptorTable newGdt,
                                    DescriptorTable newIdt, long newCr0, long newCr3, long newCr4, long newEfer) {
        return new Sregs(code, data, data, data, data, data, taskRegister, ldt, newGdt, newIdt, newCr0, cr2, newCr3,
                newCr4, cr8, newEfer, apicBase, interruptBitmap);
    }

    static Sregs read(MemorySegment s) {
        long[] bitmap = new long[4];
        for (int i = 0; i < bitmap.length; i++) {
            bitmap[i] = kvm_sregs.interrupt_bitmap(s, i);
        }
        return new Sregs(Segment.read(kvm_sregs.cs(s)), Segment.read(kvm_sregs.ds(s)), Segment.read(kvm_sregs.es(s)),
                Segment.read(kvm_sregs.fs(s)), Segment.read(kvm_sregs.gs(s)), Segment.read(kvm_sregs.ss(s)),
                Segment.read(kvm_sregs.tr(s)), Segment.read(kvm_sregs.ldt(s)), table(kvm_sregs.gdt(s)),
                table(kvm_sregs.idt(s)), kvm_sregs.cr0(s), kvm_sregs.cr2(s), kvm_sregs.cr3(s), kvm_sregs.cr4(s),
                kvm_sregs.cr8(s), kvm_sregs.efer(s), kvm_sregs.apic_base(s), bitmap);
    }

    private static DescriptorTable table(MemorySegment t) {
        return new DescriptorTable(kvm_dtable.base(t), kvm_dtable.limit(t));
    }

    void write(MemorySegment s) {
        cs.write(kvm_sregs.cs(s));
        ds.write(kvm_sregs.ds(s));
        es.write(kvm_sregs.es(s));
        fs.write(kvm_sregs.fs(s));
        gs.write(kvm_sregs.gs(s));
        ss.write(kvm_sregs.ss(s));
        tr.write(kvm_sregs.tr(s));
        ldt.write(kvm_sregs.ldt(s));
        kvm_dtable.base(kvm_sregs.gdt(s), gdt.base());
        kvm_dtable.limit(kvm_sregs.gdt(s), gdt.limit());
        kvm_dtable.base(kvm_sregs.idt(s), idt.base());
        kvm_dtable.limit(kvm_sregs.idt(s), idt.limit());
        kvm_sregs.cr0(s, cr0);
        kvm_sregs.cr2(s, cr2);
        kvm_sregs.cr3(s, cr3);
        kvm_sregs.cr4(s, cr4);
        kvm_sregs.cr8(s, cr8);
        kvm_sregs.efer(s, efer);
        kvm_sregs.apic_base(s, apicBase);
        for (int i = 0; i < interruptBitmap.length; i++) {
            kvm_sregs.interrupt_bitmap(s, i, interruptBitmap[i]);
        }
    }
}
