package io.boxlite.engine;

/** What {@code /dev/kvm} offers on this host, as {@link EngineProbe} finds it. */
public enum KvmSupport {
    /** Hardware-assisted KVM (VT-x/AMD-V) that ran the functional check: it can boot Linux. */
    HARDWARE("hardware KVM"),
    /** {@code /dev/kvm} comes from {@code kvm_pvm}: freestanding guests run, stock Linux does not. */
    PVM("KVM-PVM"),
    /** {@code /dev/kvm} exists but cannot be opened, or its functional check failed. */
    UNUSABLE("/dev/kvm unusable"),
    /** There is no {@code /dev/kvm}. */
    ABSENT("no /dev/kvm");

    private final String label;

    KvmSupport(String label) {
        this.label = label;
    }

    /** A few words for reports, e.g. {@code "KVM-PVM"}. */
    public String label() {
        return label;
    }

    /** True only for {@link #HARDWARE}: the one kind on which BoxLite's own VMM boots Linux. */
    public boolean bootsLinux() {
        return this == HARDWARE;
    }
}
