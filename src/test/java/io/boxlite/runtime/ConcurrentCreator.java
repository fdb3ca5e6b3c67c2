package io.boxlite.runtime;

import io.boxlite.AlreadyExistsException;
import io.boxlite.BoxOptions;
import io.boxlite.Boxlite;
import io.boxlite.Options;

import java.nio.file.Path;

/**
 * A separate JVM for {@link ConcurrentProcessesTest}: creates {@code count} boxes named
 * {@code prefix-N} and tries to create {@code contested}; prints "won" or "lost" for the latter,
 * then removes every other box it made (args: home, prefix, count, contested).
 */
public final class ConcurrentCreator {
    private ConcurrentCreator() {
    }

    public static void main(String[] args) {
        int count = Integer.parseInt(args[2]);
        try (Boxlite runtime = Boxlite.open(Options.builder().home(Path.of(args[0])).build())) {
            BoxOptions options = BoxOptions.builder().image(BoxTestSupport.IMAGE).autoRemove(false).build();
            for (int i = 0; i < count; i++) {
                runtime.create(options, args[1] + "-" + i);
                if (i == count / 2) {
                    try {
                        runtime.create(options, args[3]);
                        System.out.println("won");
                    } catch (AlreadyExistsException e) {
                        System.out.println("lost");
                    }
                }
            }
            for (int i = 0; i < count; i += 2) {
                runtime.remove(args[1] + "-" + i, false);
            }
        }
        System.exit(0);
    }
}
