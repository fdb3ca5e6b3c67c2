package io.boxlite.rootfs;

import io.boxlite.UnsupportedException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * A layer's compression, recognised by its magic bytes (registries and {@code docker save}
 * archives do not always label media types right): gzip, zstd or none.
 */
enum LayerCompression {
    GZIP, ZSTD, NONE;

    private static final int BUFFER = 1 << 16;

    /** Detects the compression of {@code in}, which must support mark/reset. */
    static LayerCompression detect(BufferedInputStream in) throws IOException {
        in.mark(4);
        byte[] magic = in.readNBytes(4);
        in.reset();
        if (magic.length >= 2 && (magic[0] & 0xFF) == 0x1F && (magic[1] & 0xFF) == 0x8B) {
            return GZIP;
        }
        if (magic.length == 4 && (magic[0] & 0xFF) == 0x28 && (magic[1] & 0xFF) == 0xB5
                && (magic[2] & 0xFF) == 0x2F && (magic[3] & 0xFF) == 0xFD) {
            return ZSTD;
        }
        return NONE;
    }

    /** The uncompressed tar stream of a layer blob. */
    static InputStream open(InputStream blob) throws IOException {
        var in = new BufferedInputStream(blob, BUFFER);
        return switch (detect(in)) {
            case GZIP -> new GZIPInputStream(in, BUFFER);
            case ZSTD -> zstd(in);
            case NONE -> in;
        };
    }

    private static InputStream zstd(InputStream in) throws IOException {
        try {
            return new org.apache.commons.compress.compressors.zstandard
                    .ZstdCompressorInputStream(in);
        } catch (NoClassDefFoundError | UnsatisfiedLinkError e) {
            throw new UnsupportedException("This layer is zstd-compressed, but zstd-jni (or its "
                    + "native library for this platform) is not available: add "
                    + "com.github.luben:zstd-jni to the class path", e);
        }
    }
}
