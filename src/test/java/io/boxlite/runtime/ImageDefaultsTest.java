package io.boxlite.runtime;

import io.boxlite.BoxCommand;
import io.boxlite.BoxOptions;
import io.boxlite.InvalidArgumentException;
import io.boxlite.agent.ExecRequest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Docker's rules for combining an image's config with a box's options and a command's settings. */
class ImageDefaultsTest {
    private static final ImageDefaults IMAGE = new ImageDefaults(List.of("PATH=/bin", "MODE=image", "EMPTY="),
            List.of("/entry", "--flag"), List.of("serve", "--port", "80"), Optional.of("/app"), Optional.of("app"));

    @Test
    void theImagesEntrypointIsKeptAndItsCmdReplaced() {
        assertEquals(List.of("/entry", "--flag", "serve", "--port", "80"), IMAGE.mainArgv(BoxOptions.defaults()));
        assertEquals(List.of("/entry", "--flag", "other"), IMAGE.mainArgv(BoxOptions.builder().cmd("other").build()));
    }

    @Test
    void replacingTheEntrypointDropsTheImagesCmd() {
        assertEquals(List.of("sh"), IMAGE.mainArgv(BoxOptions.builder().entrypoint("sh").build()));
        assertEquals(List.of("sh", "-c", "x"), IMAGE.mainArgv(BoxOptions.builder().entrypoint("sh").cmd("-c", "x")
                .build()));
    }

    @Test
    void environmentMergesImageThenBoxThenCommand() {
        BoxOptions options = BoxOptions.builder().env("MODE", "box").env("BOX", "1").build();
        ExecRequest r = IMAGE.request(options, BoxCommand.builder("env").env("CMD", "2").env("BOX", "cmd").build());
        assertEquals(List.of("PATH=/bin", "MODE=box", "EMPTY=", "BOX=cmd", "CMD=2"), r.env());
    }

    @Test
    void workingDirAndUserComeFromTheCommandElseTheBoxElseTheImageElseDefaults() {
        ExecRequest fromImage = IMAGE.request(BoxOptions.defaults(), BoxCommand.of("id"));
        assertEquals("/app", fromImage.workingDir());
        assertEquals("app", fromImage.user());
        ExecRequest fromBox = IMAGE.request(BoxOptions.builder().workingDir("/box").user("1000:1000").build(),
                BoxCommand.of("id"));
        assertEquals("/box", fromBox.workingDir());
        assertEquals("1000:1000", fromBox.user());
        ExecRequest fromCommand = IMAGE.request(BoxOptions.builder().workingDir("/box").build(),
                BoxCommand.builder("id").workingDir("/cmd").user("root").timeout(Duration.ofSeconds(3)).build());
        assertEquals("/cmd", fromCommand.workingDir());
        assertEquals("root", fromCommand.user());
        assertEquals(Duration.ofSeconds(3), fromCommand.timeout());
        ImageDefaults bare = new ImageDefaults(List.of(), List.of(), List.of(), Optional.empty(), Optional.empty());
        ExecRequest defaults = bare.request(BoxOptions.defaults(), BoxCommand.of("id"));
        assertEquals("/", defaults.workingDir());
        assertEquals("", defaults.user(), "root");
        assertThrows(InvalidArgumentException.class, () -> bare.request(BoxOptions.defaults(), bare.mainArgv(
                BoxOptions.defaults()), java.util.Map.of(), Optional.empty(), Optional.empty(), Optional.empty(),
                Duration.ZERO));
    }

    @Test
    void ulidsAreTwentySixCrockfordCharactersOrderedByTime() {
        Random random = new Random(1);
        String earlier = Ulid.of(1_700_000_000_000L, random);
        String later = Ulid.of(1_700_000_000_001L, random);
        assertTrue(Ulid.isUlid(earlier), earlier);
        assertEquals(26, earlier.length());
        assertTrue(earlier.compareTo(later) < 0);
        assertEquals("01HF", earlier.substring(0, 4), "48-bit milliseconds, most significant first");
        assertFalse(Ulid.isUlid("01HF" + "I".repeat(22)), "I, L, O and U are not Crockford digits");
        assertNotEquals(Ulid.next(), Ulid.next());
    }
}
