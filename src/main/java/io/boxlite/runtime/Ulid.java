package io.boxlite.runtime;

import java.security.SecureRandom;
import java.util.regex.Pattern;

/**
 * Box ids: ULIDs (26 characters of Crockford base32: 48 bits of milliseconds, then 80 random
 * bits), so ids sort by creation time and never collide in practice.
 */
public final class Ulid {
    private static final char[] ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
    private static final Pattern FORM = Pattern.compile("[0-9A-HJKMNP-TV-Z]{26}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ulid() {
    }

    /** A new id for now. */
    public static String next() {
        return of(System.currentTimeMillis(), RANDOM);
    }

    static String of(long millis, java.util.Random random) {
        char[] out = new char[26];
        long time = millis;
        for (int i = 9; i >= 0; i--) {
            out[i] = ALPHABET[(int) (time & 31)];
            time >>>= 5;
        }
        byte[] r = new byte[10];
        random.nextBytes(r);
        // 80 bits → 16 characters of 5 bits each.
        long hi = ((r[0] & 0xFFL) << 32) | ((r[1] & 0xFFL) << 24) | ((r[2] & 0xFFL) << 16) | ((r[3] & 0xFFL) << 8)
                | (r[4] & 0xFFL);
        long lo = ((r[5] & 0xFFL) << 32) | ((r[6] & 0xFFL) << 24) | ((r[7] & 0xFFL) << 16) | ((r[8] & 0xFFL) << 8)
                | (r[9] & 0xFFL);
        for (int i = 17; i >= 10; i--) {
            out[i] = ALPHABET[(int) (hi & 31)];
            hi >>>= 5;
        }
        for (int i = 25; i >= 18; i--) {
            out[i] = ALPHABET[(int) (lo & 31)];
            lo >>>= 5;
        }
        return new String(out);
    }

    /** Whether {@code text} has a ULID's form. */
    public static boolean isUlid(String text) {
        return FORM.matcher(text).matches();
    }
}
