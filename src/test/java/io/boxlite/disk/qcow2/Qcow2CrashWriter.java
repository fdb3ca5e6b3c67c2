package io.boxlite.disk.qcow2;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Child process of {@link Qcow2CrashTest}: runs the workload on an image until it is killed.
 * Appends {@code S i} to the marker file before step i and {@code F i} after flush step i has
 * completed, each with one write(2) so a SIGKILL cannot lose a marker of a step that ran (a
 * pipe read by the parent could); a second thread writes unverified noise above the verified
 * region so metadata changes concurrently. Prints READY on stdout once the image is open.
 */
public final class Qcow2CrashWriter {
    private Qcow2CrashWriter() {}

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        int clusterSize = Integer.parseInt(args[2]);
        java.nio.channels.FileChannel markers = java.nio.channels.FileChannel.open(Path.of(args[3]),
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.APPEND);
        List<CrashWorkload.Step> steps = CrashWorkload.steps(seed, 200_000, clusterSize);
        String logPath = System.getenv("QCOW2_CRASH_WRITELOG");
        if (logPath != null) {
            java.io.PrintStream log = new java.io.PrintStream(new java.io.FileOutputStream(logPath, true), true);
            ImageFile.tap = (path, pos, data) -> {
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                crc.update(data.duplicate());
                String frames = StackWalker.getInstance().walk(st -> st.skip(1).limit(6)
                        .map(f -> f.getMethodName() + ":" + f.getLineNumber())
                        .reduce((a, b) -> a + "<" + b).orElse(""));
                log.println("W " + pos + " " + data.remaining() + " " + Long.toHexString(crc.getValue()) + " "
                        + Thread.currentThread().getName() + " " + frames);
            };
        }
        Qcow2Image img = Qcow2Image.open(image);
        Thread noise = Thread.ofPlatform().daemon().start(() -> {
            Random rnd = new Random(seed ^ 0x5eed);
            int span = CrashWorkload.DISK_SIZE - CrashWorkload.VERIFIED_REGION;
            while (true) {
                int len = 1 + rnd.nextInt(100_000);
                long off = CrashWorkload.VERIFIED_REGION + rnd.nextInt(span - len);
                switch (rnd.nextInt(10)) {
                    case 0 -> img.discard(off, len);
                    case 1 -> img.writeZeroes(off, len, true);
                    case 2 -> img.flush();
                    default -> img.write(off, ByteBuffer.wrap(DiskModel.randomBytes(rnd, len)));
                }
            }
        });
        System.out.println("READY");
        for (int i = 0; i < steps.size(); i++) {
            CrashWorkload.Step s = steps.get(i);
            mark(markers, "S " + i);
            switch (s.kind()) {
                case WRITE -> img.write(s.offset(), ByteBuffer.wrap(s.data()));
                case ZEROES -> img.writeZeroes(s.offset(), s.length(), (i & 1) == 0);
                case DISCARD -> img.discard(s.offset(), s.length());
                case FLUSH -> {
                    img.flush();
                    mark(markers, "F " + i);
                }
            }
        }
        System.out.println("DONE");
        noise.join();
    }

    private static void mark(java.nio.channels.FileChannel markers, String line) throws java.io.IOException {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            markers.write(b);
        }
    }
}
