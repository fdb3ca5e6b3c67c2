package io.boxlite.disk.qcow2;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The deterministic operation sequence the crash writer runs and the verifier replays. */
final class CrashWorkload {
    static final int VERIFIED_REGION = 40 << 20;
    static final int DISK_SIZE = 56 << 20;

    enum Kind { WRITE, ZEROES, DISCARD, FLUSH }

    record Step(Kind kind, long offset, int length, long dataSeed) {
        byte[] data() {
            byte[] b = new byte[length];
            if (kind == Kind.WRITE) {
                new Random(dataSeed).nextBytes(b);
            }
            return b;
        }
    }

    private CrashWorkload() {}

    static List<Step> steps(long seed, int count, int clusterSize) {
        Random rnd = new Random(seed);
        List<Step> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int r = rnd.nextInt(20);
            if (r < 2) {
                out.add(new Step(Kind.FLUSH, 0, 0, 0));
                continue;
            }
            int len = 512 * (1 + rnd.nextInt(rnd.nextBoolean() ? 16 : 512));
            long off = 512L * rnd.nextInt((VERIFIED_REGION - len) / 512);
            if (r < 16) {
                out.add(new Step(Kind.WRITE, off, len, rnd.nextLong()));
            } else if (r < 18) {
                out.add(new Step(Kind.ZEROES, off, len, 0));
            } else {
                long s = off / clusterSize * clusterSize;
                int l = (int) Math.min(VERIFIED_REGION - s, (long) clusterSize * (1 + rnd.nextInt(4)));
                out.add(new Step(Kind.DISCARD, s, l, 0));
            }
        }
        return out;
    }
}
