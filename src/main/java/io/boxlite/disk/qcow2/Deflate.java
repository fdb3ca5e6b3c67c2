package io.boxlite.disk.qcow2;

import io.boxlite.StorageException;
import java.nio.file.Path;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/** Decompression of qcow2 compressed clusters: raw deflate, no zlib header, as QEMU writes them. */
final class Deflate {
    private Deflate() {}

    /**
     * Inflates {@code input} until exactly {@code out.length} bytes are produced.
     *
     * @throws StorageException when the stream is damaged or yields less than a cluster
     */
    static void inflateCluster(Path file, long hostOffset, byte[] input, int inputLength, byte[] out) {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(input, 0, inputLength);
            int done = 0;
            while (done < out.length) {
                int n = inflater.inflate(out, done, out.length - done);
                done += n;
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
            if (done < out.length) {
                throw Qcow2Header.corrupt(file, "compressed cluster at offset " + hostOffset
                        + " inflates to " + done + " bytes instead of " + out.length);
            }
        } catch (DataFormatException e) {
            throw new StorageException("Corrupt qcow2 image " + file + ": compressed cluster at offset "
                    + hostOffset + " is not valid deflate data", e);
        } finally {
            inflater.end();
        }
    }
}
