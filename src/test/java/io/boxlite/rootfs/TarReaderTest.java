package io.boxlite.rootfs;

import io.boxlite.oci.ImageException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TarReaderTest {
    @TempDir
    Path tmp;

    private static List<TarEntry> read(byte[] tar) throws IOException {
        var reader = new TarReader(new ByteArrayInputStream(tar), "test layer");
        var entries = new ArrayList<TarEntry>();
        for (var e = reader.next(); e.isPresent(); e = reader.next()) {
            entries.add(e.get());
        }
        return entries;
    }

    @Test
    void binaryPaxXattrsAreReadByteForByte() throws IOException {
        byte[] value = {(byte) 0xFF, 0x00, (byte) 0x80, 0x0A, 0x3D};
        var entries = read(new RawTar().xattr("security.capability", value)
                .xattr("user.text", "héllo".getBytes(StandardCharsets.UTF_8))
                .file("f", "x").tar());
        assertEquals(1, entries.size());
        assertArrayEquals(value, entries.getFirst().xattrs().get("security.capability"));
        assertArrayEquals("héllo".getBytes(StandardCharsets.UTF_8),
                entries.getFirst().xattrs().get("user.text"));
    }

    @Test
    void libarchiveXattrsAreBase64Decoded() throws IOException {
        byte[] value = {1, 2, 3, (byte) 200};
        var entries = read(new RawTar().pax("LIBARCHIVE.xattr.user.a%3Db",
                        Base64.getEncoder().encode(value))
                .file("f", "x").tar());
        assertArrayEquals(value, entries.getFirst().xattrs().get("user.a=b"));
    }

    @Test
    void paxOverridesPathSizeOwnersAndTimes() throws IOException {
        String longName = "d/" + "n".repeat(200);
        var entries = read(new RawTar().pax("path", longName.getBytes(StandardCharsets.UTF_8))
                .pax("uid", "3000000000".getBytes(StandardCharsets.US_ASCII))
                .pax("mtime", "1700000000.25".getBytes(StandardCharsets.US_ASCII))
                .file("short", 0640, 0, 0, "data".getBytes(StandardCharsets.UTF_8)).tar());
        TarEntry e = entries.getFirst();
        assertEquals(longName, e.name());
        assertEquals(3_000_000_000L, e.uid());
        assertEquals(1_700_000_000L, e.mtime());
        assertEquals(250_000_000, e.mtimeNanos());
        assertEquals(0640, e.mode());
    }

    @Test
    void gnuLongNamesAreRead() throws IOException {
        String longName = "dir/" + "x".repeat(150);
        byte[] name = (longName + "\0").getBytes(StandardCharsets.UTF_8);
        var entries = read(new RawTar()
                .entry("././@LongLink", 'L', 0644, 0, 0, name, "", 0, 0)
                .file("truncated-name", "content").tar());
        assertEquals(longName, entries.getFirst().name());
        assertEquals(TarEntry.Type.REGULAR, entries.getFirst().type());
    }

    @Test
    void gnuTarArchivesWithXattrsAndDevicesAreReadLikeTarSeesThem() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("src/sub"));
        Files.writeString(dir.resolve("file"), "hello");
        Files.createSymbolicLink(dir.resolve("link"), Path.of("file"));
        Files.createLink(dir.resolve("hard"), dir.resolve("file"));
        Path archive = tmp.resolve("gnu.tar");
        Process p = new ProcessBuilder("tar", "--create", "--file", archive.toString(),
                "--format=posix", "--numeric-owner", "--owner=1234", "--group=5678",
                "--mode=u+s", "--directory", tmp.resolve("src").toString(), ".")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(1, TimeUnit.MINUTES) && p.exitValue() == 0, out);
        var entries = read(Files.readAllBytes(archive));
        var byName = new java.util.HashMap<String, TarEntry>();
        entries.forEach(e -> byName.put(e.name(), e));
        assertEquals(TarEntry.Type.REGULAR, byName.get("./sub/file").type());
        assertEquals(1234, byName.get("./sub/file").uid());
        assertEquals(5678, byName.get("./sub/file").gid());
        assertEquals(04000, byName.get("./sub/file").mode() & 04000);
        assertEquals(TarEntry.Type.SYMLINK, byName.get("./sub/link").type());
        assertEquals("file", byName.get("./sub/link").linkName());
        var hard = byName.containsKey("./sub/hard") ? byName.get("./sub/hard")
                : byName.get("./sub/file");
        assertTrue(hard.type() == TarEntry.Type.HARDLINK
                || byName.get("./sub/file").type() == TarEntry.Type.HARDLINK);
        assertEquals(TarEntry.Type.DIRECTORY, byName.get("./sub/").type());
    }

    @Test
    void contentIsLimitedToTheEntryAndTheRestIsSkipped() throws IOException {
        var tar = new RawTar().file("a", "first").file("b", "second").tar();
        var reader = new TarReader(new ByteArrayInputStream(tar), "test layer");
        assertEquals("a", reader.next().orElseThrow().name());
        assertEquals("fi", new String(reader.content().readNBytes(2), StandardCharsets.UTF_8));
        TarEntry b = reader.next().orElseThrow();
        assertEquals("b", b.name());
        assertEquals("second", new String(reader.content().readAllBytes(),
                StandardCharsets.UTF_8));
        assertTrue(reader.next().isEmpty());
    }

    @Test
    void malformedPaxRecordsAreRefused() {
        var bad = new RawTar();
        var records = "99 path=x\n".getBytes(StandardCharsets.US_ASCII);
        bad.entry("PaxHeaders/x", 'x', 0644, 0, 0, records, "", 0, 0).file("f", "x");
        var e = assertThrows(ImageException.class, () -> read(bad.tar()));
        assertTrue(e.getMessage().contains("malformed pax record"), e.getMessage());
    }

    @Test
    void unknownEntryTypesAreRefused() {
        var e = assertThrows(ImageException.class, () -> read(new RawTar()
                .entry("weird", 'Z', 0644, 0, 0, new byte[0], "", 0, 0).tar()));
        assertTrue(e.getMessage().contains("unknown entry type 'Z'"), e.getMessage());
    }

    @Test
    void anArchiveWithoutEndBlocksEndsCleanlyAtAHeaderBoundary() throws IOException {
        var full = new RawTar().file("a", "x");
        byte[] tar = full.tar();
        byte[] noEnd = java.util.Arrays.copyOf(tar, tar.length - 1024);
        assertEquals(1, read(noEnd).size());
        var out = new ByteArrayOutputStream();
        out.writeBytes(noEnd);
        out.writeBytes(new byte[100]);
        assertThrows(ImageException.class, () -> read(out.toByteArray()));
    }
}
