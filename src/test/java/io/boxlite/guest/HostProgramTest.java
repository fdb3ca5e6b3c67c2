package io.boxlite.guest;

import io.boxlite.NotFoundException;
import io.boxlite.Options;
import io.boxlite.UnsupportedException;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Packing a host program (resize2fs) with its loader and libraries for the initramfs. */
class HostProgramTest {
    private static final Path RESIZE2FS = Path.of("/usr/sbin/resize2fs");

    @TempDir
    Path dir;

    private static void assumeResize2fs() {
        if (!Files.isExecutable(RESIZE2FS)) {
            System.err.println("*** SKIPPING: " + RESIZE2FS + " is missing (install e2fsprogs: bin/setup) ***");
        }
        assumeTrue(Files.isExecutable(RESIZE2FS), "e2fsprogs is needed (bin/setup)");
    }

    private static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    @Test
    void resize2fsComesWithTheLoaderAndEveryLibraryLddNames() throws Exception {
        assumeResize2fs();
        HostProgram program = HostProgram.resolve(RESIZE2FS, "sbin/resize2fs");
        assertArrayEquals(Files.readAllBytes(RESIZE2FS), program.files().get("sbin/resize2fs"));
        Set<String> expected = new TreeSet<>();
        for (String line : run(List.of("ldd", RESIZE2FS.toString())).lines().toList()) {
            String[] words = line.strip().split("\\s+");
            if (line.contains("=> /")) {
                expected.add(Path.of(words[2]).getFileName().toString());
            } else if (words[0].startsWith("/")) {
                expected.add(Path.of(words[0]).getFileName().toString()); // the loader
            }
        }
        Set<String> packed = new TreeSet<>();
        program.files().keySet().stream().filter(p -> !p.equals("sbin/resize2fs"))
                .forEach(p -> packed.add(Path.of(p).getFileName().toString()));
        assertEquals(expected, packed);
        assertTrue(program.files().containsKey("lib64/ld-linux-x86-64.so.2"), program.files().keySet().toString());
        assertEquals(expected.size() + 1, program.files().size(), "no file twice: " + program.files().keySet());
        assertTrue(expected.contains("libext2fs.so.2"), expected.toString());
    }

    @Test
    void thePackedFilesAloneRunResize2fsInAnEmptyRoot() throws Exception {
        assumeResize2fs();
        boolean root = "0".equals(run(List.of("id", "-u")).strip());
        if (!root) {
            System.err.println("*** SKIPPING the chroot run: it needs root (CI runs as root) ***");
        }
        assumeTrue(root, "chroot needs root");
        Path tree = dir.resolve("root");
        for (var e : HostProgram.resolve(RESIZE2FS, "sbin/resize2fs").files().entrySet()) {
            Path file = tree.resolve(e.getKey());
            Files.createDirectories(file.getParent());
            Files.write(file, e.getValue());
            file.toFile().setExecutable(true);
        }
        String out = run(List.of("chroot", tree.toString(), "/sbin/resize2fs"));
        assertTrue(out.contains("Usage: /sbin/resize2fs"), "runs without the host's /lib: " + out);
    }

    @Test
    void aMissingLibraryIsNamed() throws Exception {
        assumeResize2fs();
        Path empty = Files.createDirectories(dir.resolve("no-libs"));
        var e = assertThrows(NotFoundException.class,
                () -> HostProgram.resolve(RESIZE2FS, "sbin/resize2fs", List.of(empty.toString())));
        assertTrue(e.getMessage().contains("needs lib") && e.getMessage().contains(empty.toString()), e.getMessage());
    }

    @Test
    void aFileThatIsNoElf64IsRefusedAndTablesOutsideTheFileAreCaught() throws Exception {
        var script = assertThrows(UnsupportedException.class,
                () -> ElfFile.parse("#!/bin/sh\necho hi\n".repeat(8).getBytes(StandardCharsets.UTF_8), "script"));
        assertTrue(script.getMessage().contains("not an ELF file"), script.getMessage());
        assumeResize2fs();
        byte[] elf = Files.readAllBytes(RESIZE2FS);
        byte[] cut = java.util.Arrays.copyOf(elf, 4096);
        var truncated = assertThrows(UnsupportedException.class, () -> ElfFile.parse(cut, "cut"));
        assertTrue(truncated.getMessage().contains("outside"), truncated.getMessage());
        ElfFile whole = ElfFile.parse(elf, RESIZE2FS.toString());
        assertEquals("/lib64/ld-linux-x86-64.so.2", whole.interpreter().orElseThrow());
        assertTrue(whole.needed().contains("libc.so.6"), whole.needed().toString());
        ElfFile agent = ElfFile.parse(io.boxlite.agent.GuestAgentBinary.bytes(), "agent");
        assertTrue(agent.interpreter().isEmpty() && agent.needed().isEmpty(), "the agent is static: " + agent);
    }

    @Test
    void theInitramfsCacheKeyCoversTheContentOfEveryPackedLibrary() throws Exception {
        GuestKernel kernel;
        try {
            kernel = GuestKernel.locate(Options.defaults());
        } catch (RuntimeException e) {
            System.err.println("*** SKIPPING: no guest kernel (bin/setup fetches it) ***");
            assumeTrue(false, "no guest kernel");
            return;
        }
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir.resolve("home")).build()).open();
        byte[] init = "#!/bin/sh\n".getBytes(StandardCharsets.UTF_8);
        Map<String, byte[]> files = new HashMap<>(Map.of("lib/x86_64-linux-gnu/libfake.so.1", new byte[] {1, 2, 3}));
        Path first = Initramfs.of(kernel, init, List.of(), files).build(home);
        files.put("lib/x86_64-linux-gnu/libfake.so.1", new byte[] {1, 2, 4});
        Path second = Initramfs.of(kernel, init, List.of(), files).build(home);
        assertNotEquals(first, second, "a library with other bytes gives another cache entry");
        assertEquals(first, Initramfs.of(kernel, init, List.of(), Map.of("lib/x86_64-linux-gnu/libfake.so.1",
                new byte[] {1, 2, 3})).build(home));
        List<String> cached = new ArrayList<>();
        try (var s = Files.list(home.init())) {
            s.forEach(p -> cached.add(p.getFileName().toString()));
        }
        assertEquals(2, cached.size(), cached.toString());
    }
}
