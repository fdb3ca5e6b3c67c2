package io.boxlite.kvm;

/** One model-specific register: index and value. */
public record MsrEntry(int index, long value) {
}
