package io.boxlite.home;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScratchSpaceTest {
    @TempDir
    Path tmp;

    @Test
    void optionsWinOverTheEnvironment() throws Exception {
        Path fromOptions = Files.createDirectory(tmp.resolve("options"));
        Path fromEnv = Files.createDirectory(tmp.resolve("env"));

        var scratch = ScratchSpace.resolve(Options.builder().scratchDir(fromOptions).build(),
                Map.of("BOXLITE_TMPDIR", fromEnv.toString()));

        assertEquals(fromOptions, scratch.root());
    }

    @Test
    void boxliteTmpdirIsUsedWhenNoOptionIsGiven() throws Exception {
        Path fromEnv = Files.createDirectory(tmp.resolve("env"));

        var scratch = ScratchSpace.resolve(Options.defaults(),
                Map.of("BOXLITE_TMPDIR", fromEnv.toString()));

        assertEquals(fromEnv, scratch.root());
    }

    @Test
    void defaultIsJavaIoTmpdir() {
        var scratch = ScratchSpace.resolve(Options.defaults(), Map.of("BOXLITE_TMPDIR", ""));

        assertEquals(Path.of(System.getProperty("java.io.tmpdir")).normalize(), scratch.root());
    }

    @Test
    void aMissingBoxliteTmpdirIsRejectedNamingTheVariable() {
        String missing = tmp.resolve("missing").toString();

        var e = assertThrows(InvalidArgumentException.class, () -> ScratchSpace.resolve(
                Options.defaults(), Map.of("BOXLITE_TMPDIR", missing)));

        assertTrue(e.getMessage().startsWith("BOXLITE_TMPDIR does not exist"), e.getMessage());
        assertTrue(e.getMessage().contains(missing), e.getMessage());
    }

    @Test
    void aBoxliteTmpdirThatIsAFileIsRejectedNamingTheVariable() throws Exception {
        Path file = Files.writeString(tmp.resolve("file"), "x");

        var e = assertThrows(InvalidArgumentException.class, () -> ScratchSpace.resolve(
                Options.defaults(), Map.of("BOXLITE_TMPDIR", file.toString())));

        assertTrue(e.getMessage().startsWith("BOXLITE_TMPDIR is not a directory"), e.getMessage());
    }

    @Test
    void aRelativeBoxliteTmpdirIsRejected() {
        var e = assertThrows(InvalidArgumentException.class, () -> ScratchSpace.resolve(
                Options.defaults(), Map.of("BOXLITE_TMPDIR", "scratch")));

        assertTrue(e.getMessage().startsWith("BOXLITE_TMPDIR must be an absolute path"),
                e.getMessage());
    }

    @Test
    void aMissingScratchDirOptionIsRejectedNamingTheOption() {
        var options = Options.builder().scratchDir(tmp.resolve("missing")).build();

        var e = assertThrows(InvalidArgumentException.class,
                () -> ScratchSpace.resolve(options, Map.of()));

        assertTrue(e.getMessage().startsWith("Options.scratchDir does not exist"), e.getMessage());
    }

    @Test
    void createsPrivateUniqueDirectoriesInTheScratchRoot() throws Exception {
        var scratch = ScratchSpace.resolve(Options.builder().scratchDir(tmp).build(), Map.of());

        Path first = scratch.createTempDirectory("pull");
        Path second = scratch.createTempDirectory("pull");

        assertEquals(tmp, first.getParent());
        assertTrue(first.getFileName().toString().startsWith("boxlite-pull-"));
        assertNotEquals(first, second);
        assertEquals("rwx------",
                PosixFilePermissions.toString(Files.getPosixFilePermissions(first)));
    }

    @Test
    void malformedPrefixesAreRejected() {
        var scratch = ScratchSpace.resolve(Options.builder().scratchDir(tmp).build(), Map.of());

        assertThrows(InvalidArgumentException.class, () -> scratch.createTempDirectory("../x"));
        assertThrows(InvalidArgumentException.class, () -> scratch.createTempDirectory(""));
    }
}
