package io.boxlite.disk.qcow2;

import java.nio.ByteBuffer;

/** A raw file used as a backing image, opened read-only. */
final class RawBacking implements Backing {
    private final ImageFile file;
    private final long size;

    RawBacking(ImageFile file) {
        this.file = file;
        this.size = file.size();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        // the file may have shrunk since open: what is gone reads as zeros, as in QEMU
        file.readOrZero(offset, dst);
    }

    @Override
    public void close() {
        file.close();
    }
}
