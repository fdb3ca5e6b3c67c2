package io.boxlite.disk.qcow2;

import io.boxlite.UnsupportedException;

/** Formats a qcow2 backing file may have, named as in QEMU's backing format header extension. */
public enum BackingFormat {
    RAW("raw"),
    QCOW2("qcow2");

    private final String qemuName;

    BackingFormat(String qemuName) {
        this.qemuName = qemuName;
    }

    /** The name QEMU records and accepts ({@code -F raw}, {@code -F qcow2}). */
    public String qemuName() {
        return qemuName;
    }

    /** The format QEMU calls {@code name}; refuses any other. */
    public static BackingFormat ofQemuName(String name) {
        for (BackingFormat f : values()) {
            if (f.qemuName.equals(name)) {
                return f;
            }
        }
        throw new UnsupportedException("Backing file format '" + name
                + "' is not supported (raw and qcow2 are)");
    }
}
