package io.boxlite.disk.qcow2;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * Child process of {@link Qcow2CrashTest}: runs the workload on an image until it is killed.
 * Prints {@code S i} before step i and {@code F i} after flush step i has completed; a second
 * thread writes unverified noise above the verified region so metadata changes concurrently.
 */
public final class Qcow2CrashWriter {
    private Qcow2CrashWriter() {}

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        int clusterSize = Integer.parseInt(args[2]);
        List<CrashWorkload.Step> steps = CrashWorkload.steps(seed, 200_000, clusterSize);
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
            System.out.println("S " + i);
            switch (s.kind()) {
                case WRITE -> img.write(s.offset(), ByteBuffer.wrap(s.data()));
                case ZEROES -> img.writeZeroes(s.offset(), s.length(), (i & 1) == 0);
                case DISCARD -> img.discard(s.offset(), s.length());
                case FLUSH -> {
                    img.flush();
                    System.out.println("F " + i);
                }
            }
        }
        System.out.println("DONE");
        noise.join();
    }
}
