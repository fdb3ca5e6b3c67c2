package io.boxlite.vmm.devices.virtio;

import io.boxlite.vmm.memory.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Validated buffers of one chain seen as one byte range, whatever the guest's framing (the
 * spec forbids devices to assume a header sits in its own descriptor). Offsets are relative to
 * the start of the first buffer. Views alias guest RAM: the guest may change the bytes at any
 * moment, so parsers copy once ({@link #read}) and validate the copy.
 */
public final class GuestBuffers {
    private final GuestMemory memory;
    private final List<Descriptor> buffers;
    private final long length;

    public GuestBuffers(GuestMemory memory, List<Descriptor> buffers) {
        this.memory = memory;
        this.buffers = List.copyOf(buffers);
        long total = 0;
        for (Descriptor d : this.buffers) {
            total += d.length();
        }
        this.length = total;
    }

    /** A chain split at the readable/writable boundary (chains put readable buffers first). */
    public record Split(GuestBuffers readable, GuestBuffers writable) {
    }

    static Split split(GuestMemory memory, List<Descriptor> chain) {
        List<Descriptor> r = new ArrayList<>();
        List<Descriptor> w = new ArrayList<>();
        for (Descriptor d : chain) {
            (d.writable() ? w : r).add(d);
        }
        return new Split(new GuestBuffers(memory, r), new GuestBuffers(memory, w));
    }

    /** The bytes {@code [offset, offset + len)} of these buffers, as buffers of their own. */
    public GuestBuffers range(long offset, long len) {
        if (offset < 0 || len < 0 || offset > length || len > length - offset) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + len + " outside buffers of " + length + " bytes");
        }
        List<Descriptor> out = new ArrayList<>();
        long skip = offset;
        long want = len;
        for (Descriptor d : buffers) {
            if (want == 0) {
                break;
            }
            if (skip >= d.length()) {
                skip -= d.length();
                continue;
            }
            long take = Math.min(d.length() - skip, want);
            out.add(new Descriptor(d.address().plus(skip), Math.toIntExact(take), d.writable()));
            want -= take;
            skip = 0;
        }
        return new GuestBuffers(memory, out);
    }

    /** Total bytes. */
    public long length() {
        return length;
    }

    public List<Descriptor> descriptors() {
        return buffers;
    }

    /** Copies {@code length} bytes starting at {@code offset} into a new array. */
    public byte[] read(long offset, int len) {
        byte[] out = new byte[len];
        int done = 0;
        for (MemorySegment s : segments(offset, len)) {
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, out, done, (int) s.byteSize());
            done += (int) s.byteSize();
        }
        return out;
    }

    /** Copies {@code src[from, from+len)} into the buffers at {@code offset}. */
    public void write(long offset, byte[] src, int from, int len) {
        int done = from;
        for (MemorySegment s : segments(offset, len)) {
            MemorySegment.copy(src, done, s, ValueLayout.JAVA_BYTE, 0, (int) s.byteSize());
            done += (int) s.byteSize();
        }
    }

    public void write(long offset, byte[] src) {
        write(offset, src, 0, src.length);
    }

    /**
     * Host views of {@code [offset, offset + len)}, one per buffer touched.
     *
     * @throws IndexOutOfBoundsException if the range is not inside these buffers
     */
    public List<MemorySegment> segments(long offset, long len) {
        if (offset < 0 || len < 0 || offset > length || len > length - offset) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + len + " outside buffers of " + length + " bytes");
        }
        List<MemorySegment> out = new ArrayList<>(2);
        long skip = offset;
        long want = len;
        for (Descriptor d : buffers) {
            if (want == 0) {
                break;
            }
            if (skip >= d.length()) {
                skip -= d.length();
                continue;
            }
            long take = Math.min(d.length() - skip, want);
            out.add(memory.slice(d.address().plus(skip), take));
            want -= take;
            skip = 0;
        }
        return out;
    }

    /** Like {@link #segments} as NIO buffers, for scatter/gather file I/O straight into guest RAM. */
    public ByteBuffer[] byteBuffers(long offset, long len) {
        return segments(offset, len).stream().map(MemorySegment::asByteBuffer).toArray(ByteBuffer[]::new);
    }
}
