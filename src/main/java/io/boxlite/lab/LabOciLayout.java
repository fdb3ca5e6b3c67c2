package io.boxlite.lab;

import io.boxlite.oci.Digest;
import io.boxlite.oci.MediaTypes;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The lab's box image as an OCI image layout (what {@code BoxOptions.rootfsPath} takes): one
 * uncompressed layer with busybox-static, a link per applet, {@code /etc/passwd} and
 * {@code /etc/group}; {@code CMD ["sh"]}; tagged {@value #REF}. Reproducible: fixed owners and
 * times, so the lab image's cache key stays put. Uncompressed, because the outer guest runs
 * under emulation and gunzip there costs seconds.
 */
final class LabOciLayout {
    static final String REF = "localhost/busybox:lab";
    private static final long MTIME_MS = 1_704_067_200_000L; // 2024-01-01T00:00Z

    private LabOciLayout() {
    }

    /** The layout's files, by path relative to the layout directory. */
    static Map<String, byte[]> busybox(Path busybox, List<String> applets) throws IOException {
        byte[] layer = layer(Files.readAllBytes(busybox), applets);
        Map<String, byte[]> files = new LinkedHashMap<>();
        Digest layerDigest = blob(files, layer);
        byte[] config = """
                {"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:\
                /usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/"},"rootfs":{"type":"layers",\
                "diff_ids":["%s"]}}
                """.formatted(layerDigest).strip().getBytes(StandardCharsets.UTF_8);
        Digest configDigest = blob(files, config);
        byte[] manifest = """
                {"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%d},\
                "layers":[{"mediaType":"%s","digest":"%s","size":%d}]}
                """.formatted(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_CONFIG, configDigest, config.length,
                MediaTypes.OCI_LAYER, layerDigest, layer.length).strip().getBytes(StandardCharsets.UTF_8);
        Digest manifestDigest = blob(files, manifest);
        files.put("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}\n".getBytes(StandardCharsets.UTF_8));
        files.put("index.json", """
                {"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%d,\
                "platform":{"architecture":"amd64","os":"linux"},\
                "annotations":{"org.opencontainers.image.ref.name":"%s"}}]}
                """.formatted(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST, manifestDigest, manifest.length, REF)
                .getBytes(StandardCharsets.UTF_8));
        return files;
    }

    private static Digest blob(Map<String, byte[]> files, byte[] content) {
        Digest d = Digest.of(content);
        files.put("blobs/sha256/" + d.hex(), content);
        return d;
    }

    private static byte[] layer(byte[] busybox, List<String> applets) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (String d : List.of("bin", "etc", "root", "tmp", "proc", "sys", "dev", "run")) {
                TarArchiveEntry e = entry(new TarArchiveEntry(d + "/"), d.equals("tmp") ? 01777 : 0755);
                tar.putArchiveEntry(e);
                tar.closeArchiveEntry();
            }
            file(tar, "bin/busybox", busybox, 0755);
            for (String applet : applets) {
                TarArchiveEntry link = entry(new TarArchiveEntry("bin/" + applet, TarArchiveEntry.LF_SYMLINK), 0777);
                link.setLinkName("busybox");
                tar.putArchiveEntry(link);
                tar.closeArchiveEntry();
            }
            file(tar, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n".getBytes(StandardCharsets.US_ASCII), 0644);
            file(tar, "etc/group", "root:x:0:\n".getBytes(StandardCharsets.US_ASCII), 0644);
            tar.finish();
        }
        return bytes.toByteArray();
    }

    private static void file(TarArchiveOutputStream tar, String name, byte[] content, int mode) throws IOException {
        TarArchiveEntry e = entry(new TarArchiveEntry(name), mode);
        e.setSize(content.length);
        tar.putArchiveEntry(e);
        tar.write(content);
        tar.closeArchiveEntry();
    }

    private static TarArchiveEntry entry(TarArchiveEntry e, int mode) {
        e.setMode((e.isDirectory() ? 040000 : e.isSymbolicLink() ? 0120000 : 0100000) | mode);
        e.setIds(0, 0);
        e.setModTime(MTIME_MS);
        return e;
    }
}
