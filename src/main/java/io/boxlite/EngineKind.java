package io.boxlite;

/** Which engine runs a box's guest CPU. Devices are the same Java code under both. */
public enum EngineKind {
    /** BoxLite's own Java VMM on {@code /dev/kvm}: needs hardware virtualization to boot Linux. */
    KVM,
    /** QEMU runs the guest CPU (KVM or TCG), with every device served by BoxLite over vhost-user. */
    QEMU;

    /** Parses {@code kvm} or {@code qemu}, case-insensitively, as {@code BOXLITE_ENGINE} holds it. */
    public static EngineKind parse(String text) {
        return switch (text.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "kvm" -> KVM;
            case "qemu" -> QEMU;
            default -> throw new BoxliteException(ErrorCode.INVALID_ARGUMENT,
                    "Unknown engine '" + text + "': use 'kvm' or 'qemu'");
        };
    }
}
