package io.boxlite.rootfs;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * The bytes an image's layers may unpack to, all layers together: a decompression bomb (a few
 * KiB of gzip that inflate to terabytes) fails as soon as the uncompressed tar streams pass the
 * limit, before it fills the home's disk. Counted on the decompressed stream, so tar headers,
 * padding and whiteouts count too; an entry that declares more than is left fails before any
 * of it is written. Not thread-safe: one per build.
 */
final class UnpackBudget {
    private final long limit;
    private final String image;
    private long used;
    private String layer = "";
    private String entry = "";

    UnpackBudget(long limit, String image) {
        this.limit = limit;
        this.image = image;
    }

    /** Names the layer (as in errors: {@code Layer sha256:… (1 of 3) of image …}) now unpacked. */
    void layer(String what) {
        this.layer = what;
        this.entry = "";
    }

    /** Names the entry now unpacked. */
    void entry(String name) {
        this.entry = name;
    }

    /** Fails at once if an entry declaring {@code size} bytes cannot fit in what is left. */
    void checkDeclared(long size) {
        if (size > limit - used) {
            throw exceeded("its entry '" + entry + "' declares " + size + " bytes, more than the "
                    + (limit - used) + " left");
        }
    }

    /** Counts what {@code in} (a decompressed layer) yields against the limit. */
    InputStream meter(InputStream in) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    charge(1);
                }
                return b;
            }

            @Override
            public int read(byte[] buf, int off, int len) throws IOException {
                int n = super.read(buf, off, len);
                if (n > 0) {
                    charge(n);
                }
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                // why: read through, so skipped bytes are decompressed and counted too
                return Math.max(0, read(new byte[(int) Math.min(n, 8192)]));
            }
        };
    }

    private void charge(long n) {
        used += n;
        if (used > limit) {
            throw exceeded(entry.isEmpty() ? "it passed the limit" : "it passed the limit in entry '" + entry + "'");
        }
    }

    private BoxliteException exceeded(String how) {
        return new BoxliteException(ErrorCode.RESOURCE_EXHAUSTED, "Image " + image + " unpacks to more than "
                + limit + " bytes, the limit for one image: " + layer + " stopped because " + how
                + ". If the image is trusted, raise Options.maxUnpackedBytes (or BOXLITE_MAX_UNPACKED_BYTES)");
    }
}
