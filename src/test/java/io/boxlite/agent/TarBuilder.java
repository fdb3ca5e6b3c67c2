package io.boxlite.agent;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Hand-built ustar/pax archives, including hostile ones GNU tar would refuse to write. */
final class TarBuilder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    static TarBuilder create() {
        return new TarBuilder();
    }

    TarBuilder file(String name, String content) {
        byte[] data = content.getBytes(StandardCharsets.UTF_8);
        header(name, '0', data.length, "");
        body(data);
        return this;
    }

    TarBuilder symlink(String name, String target) {
        header(name, '2', 0, target);
        return this;
    }

    TarBuilder paxFile(String name, String content) {
        String record = " path=" + name + "\n";
        int len = record.length() + 1;
        while ((len + record).length() != len) {
            len = (len + record).length();
        }
        byte[] pax = (len + record).getBytes(StandardCharsets.UTF_8);
        header("PaxHeaders/x", 'x', pax.length, "");
        body(pax);
        return file("placeholder", content);
    }

    byte[] finish() {
        out.writeBytes(new byte[1024]);
        return out.toByteArray();
    }

    private void header(String name, char type, long size, String link) {
        byte[] h = new byte[512];
        put(h, 0, name, 100);
        put(h, 100, "%07o".formatted(0644), 8);
        put(h, 108, "%07o".formatted(0), 8);
        put(h, 116, "%07o".formatted(0), 8);
        put(h, 124, "%011o".formatted(size), 12);
        put(h, 136, "%011o".formatted(1_600_000_000L), 12);
        h[156] = (byte) type;
        put(h, 157, link, 100);
        put(h, 257, "ustar", 6);
        put(h, 263, "00", 2);
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        int sum = 0;
        for (byte b : h) {
            sum += Byte.toUnsignedInt(b);
        }
        put(h, 148, "%06o".formatted(sum), 7);
        out.writeBytes(h);
    }

    private void body(byte[] data) {
        out.writeBytes(data);
        out.writeBytes(new byte[(512 - data.length % 512) % 512]);
    }

    private static void put(byte[] h, int off, String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(b, 0, h, off, Math.min(b.length, max));
    }
}
