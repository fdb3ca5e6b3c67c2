package io.boxlite.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;

/** Recursive delete that logs instead of failing (cleanup paths). */
final class Trees {
    private static final System.Logger LOG = System.getLogger(Trees.class.getName());

    private Trees() {
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "Cannot remove " + dir + ": " + e.getMessage());
        }
    }
}
