package io.boxlite.kvm;

/** GDTR or IDTR: base and limit ({@code struct kvm_dtable}). */
public record DescriptorTable(long base, short limit) {
}
