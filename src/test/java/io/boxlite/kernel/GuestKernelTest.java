package io.boxlite.kernel;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.Options;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GuestKernelTest {
    private static final String VERSION = "6.1.0-99-cloud-amd64";

    @TempDir
    Path tmp;

    /** Lays out a kernel directory the way bin/fetch-kernel does. */
    private static Path fakeKernel(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("boot"));
        Files.createDirectories(dir.resolve("lib/modules/" + VERSION + "/kernel"));
        Files.write(dir.resolve("boot/vmlinuz-" + VERSION), new byte[] {'M', 'Z'});
        Files.writeString(dir.resolve("kernel.json"), """
                {
                  "version": "%s",
                  "package": "linux-image-%s",
                  "packageVersion": "6.1.999-1",
                  "vmlinuz": "boot/vmlinuz-%s",
                  "sha256": "00",
                  "fetchedAt": "2026-11-29T00:00:00Z"
                }
                """.formatted(VERSION, VERSION, VERSION));
        return dir;
    }

    @Test
    void optionsKernelDirComesFirst() throws IOException {
        Path dir = fakeKernel(tmp.resolve("mine"));
        var env = Map.of("BOXLITE_KERNEL_DIR", tmp.resolve("elsewhere").toString(),
                "BOXLITE_KERNELS", tmp.resolve("root").toString());

        GuestKernel kernel = GuestKernel.locate(Options.builder().kernelDir(dir).build(), env);

        assertEquals(VERSION, kernel.version());
        assertEquals("6.1.999-1", kernel.packageVersion());
        assertEquals(dir.toRealPath(), kernel.dir());
        assertEquals(dir.toRealPath().resolve("boot/vmlinuz-" + VERSION), kernel.vmlinuz());
        assertEquals(dir.toRealPath().resolve("lib/modules/" + VERSION), kernel.modulesDir());
    }

    @Test
    void kernelDirVariableComesNext() throws IOException {
        Path dir = fakeKernel(tmp.resolve("from-env"));
        var env = Map.of("BOXLITE_KERNEL_DIR", dir.toString(), "BOXLITE_KERNELS", tmp.resolve("root").toString());

        assertEquals(dir.toRealPath(), GuestKernel.locate(Options.defaults(), env).dir());
    }

    @Test
    void currentSymlinkUnderKernelsRootIsResolved() throws IOException {
        Path root = tmp.resolve("kernels");
        Path versioned = fakeKernel(root.resolve(VERSION));
        Files.createSymbolicLink(root.resolve("current"), Path.of(VERSION));

        GuestKernel kernel = GuestKernel.locate(Options.defaults(), Map.of("BOXLITE_KERNELS", root.toString()));

        assertEquals(versioned.toRealPath(), kernel.dir());
    }

    @Test
    void defaultRootIsUnderHome() {
        assertEquals(Path.of("/home/u/.local/share/boxlite/kernels"),
                GuestKernel.kernelsRoot(Map.of("HOME", "/home/u")));
    }

    @Test
    void missingDirectoryNamesThePathAndTheFix() {
        Path root = tmp.resolve("empty-root");
        var e = assertThrows(BoxliteException.class,
                () -> GuestKernel.locate(Options.defaults(), Map.of("BOXLITE_KERNELS", root.toString())));
        assertEquals(ErrorCode.CONFIG, e.code());
        assertTrue(e.getMessage().contains(root.resolve("current").toString()), e.getMessage());
        assertTrue(e.getMessage().endsWith("run bin/fetch-kernel (or bin/setup)"), e.getMessage());
    }

    @Test
    void missingDescriptorIsNamed() throws IOException {
        Path dir = fakeKernel(tmp.resolve("k"));
        Files.delete(dir.resolve("kernel.json"));
        var e = assertThrows(BoxliteException.class, () -> GuestKernel.load(dir));
        assertTrue(e.getMessage().contains(dir.toRealPath().resolve("kernel.json").toString()), e.getMessage());
    }

    @Test
    void missingImageIsNamed() throws IOException {
        Path dir = fakeKernel(tmp.resolve("k"));
        Files.delete(dir.resolve("boot/vmlinuz-" + VERSION));
        var e = assertThrows(BoxliteException.class, () -> GuestKernel.load(dir));
        assertEquals(ErrorCode.CONFIG, e.code());
        assertTrue(e.getMessage().contains("vmlinuz-" + VERSION + " does not exist"), e.getMessage());
    }

    @Test
    void missingModulesDirIsNamed() throws IOException {
        Path dir = fakeKernel(tmp.resolve("k"));
        Files.delete(dir.resolve("lib/modules/" + VERSION + "/kernel"));
        Files.delete(dir.resolve("lib/modules/" + VERSION));
        var e = assertThrows(BoxliteException.class, () -> GuestKernel.load(dir));
        assertTrue(e.getMessage().contains("lib/modules/" + VERSION + " does not exist"), e.getMessage());
    }

    @Test
    void malformedDescriptorIsConfigErrorWithCause() throws IOException {
        Path dir = fakeKernel(tmp.resolve("k"));
        Files.writeString(dir.resolve("kernel.json"), "{ not json");
        var e = assertThrows(BoxliteException.class, () -> GuestKernel.load(dir));
        assertEquals(ErrorCode.CONFIG, e.code());
        assertTrue(e.getCause() instanceof IOException);
    }

    @Test
    void descriptorWithoutVersionIsRejected() throws IOException {
        Path dir = fakeKernel(tmp.resolve("k"));
        Files.writeString(dir.resolve("kernel.json"), "{\"vmlinuz\": \"boot/x\", \"packageVersion\": \"1\"}");
        var e = assertThrows(BoxliteException.class, () -> GuestKernel.load(dir));
        assertTrue(e.getMessage().contains("\"version\""), e.getMessage());
    }

    @Test
    void imageOutsideTheDirectoryIsRejected() throws IOException {
        Path dir = fakeKernel(tmp.resolve("k"));
        Files.writeString(dir.resolve("kernel.json"), """
                {"version": "%s", "packageVersion": "1", "vmlinuz": "../../etc/passwd"}
                """.formatted(VERSION));
        var e = assertThrows(BoxliteException.class, () -> GuestKernel.load(dir));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
    }

    /** The kernel bin/fetch-kernel really unpacked; bin/test and .ci/run fetch it first. */
    @Test
    void realFetchedKernel() throws IOException {
        Path current = GuestKernel.kernelsRoot(System.getenv()).resolve("current");
        assumeTrue(Files.isDirectory(current), () -> "\n\n*** SKIPPED: no fetched guest kernel at " + current
                + " — run bin/fetch-kernel (bin/test does this for you) ***\n");

        GuestKernel kernel = GuestKernel.locate(Options.defaults(), Map.of("BOXLITE_KERNELS",
                current.getParent().toString()));

        assertTrue(kernel.version().matches("\\d+\\.\\d+\\.\\d+-\\d+-cloud-amd64"), kernel.version());
        byte[] head = new byte[0x206];
        try (var in = Files.newInputStream(kernel.vmlinuz())) {
            assertEquals(head.length, in.readNBytes(head, 0, head.length));
        }
        // A bzImage carries "HdrS" at offset 0x202 (the x86 boot protocol's setup header magic).
        assertEquals("HdrS", new String(head, 0x202, 4, java.nio.charset.StandardCharsets.US_ASCII));
        assertTrue(Files.isDirectory(kernel.modulesDir().resolve("kernel")), kernel.modulesDir().toString());
    }
}
