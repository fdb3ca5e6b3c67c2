package io.boxlite.kvm;

import io.boxlite.sys.gen.kvm_segment;

import java.lang.foreign.MemorySegment;

/** A segment register's hidden state ({@code struct kvm_segment}). Flag fields are 0 or 1. */
public record Segment(long base, int limit, short selector, byte type, byte present, byte dpl, byte db,
                      byte s, byte l, byte g, byte avl, byte unusable) {

    static Segment read(MemorySegment m) {
        return new Segment(kvm_segment.base(m), kvm_segment.limit(m), kvm_segment.selector(m), kvm_segment.type(m),
                kvm_segment.present(m), kvm_segment.dpl(m), kvm_segment.db(m), kvm_segment.s(m), kvm_segment.l(m),
                kvm_segment.g(m), kvm_segment.avl(m), kvm_segment.unusable(m));
    }

    void write(MemorySegment m) {
        kvm_segment.base(m, base);
        kvm_segment.limit(m, limit);
        kvm_segment.selector(m, selector);
        kvm_segment.type(m, type);
        kvm_segment.present(m, present);
        kvm_segment.dpl(m, dpl);
        kvm_segment.db(m, db);
        kvm_segment.s(m, s);
        kvm_segment.l(m, l);
        kvm_segment.g(m, g);
        kvm_segment.avl(m, avl);
        kvm_segment.unusable(m, unusable);
    }
}
