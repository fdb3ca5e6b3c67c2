package io.boxlite.runtime;

import io.boxlite.Box;
import io.boxlite.BoxOptions;
import io.boxlite.Boxlite;
import io.boxlite.Options;

import java.nio.file.Path;

/**
 * A separate JVM for {@link BoxLifecycleTest}: creates and starts a detached box, prints its id
 * and exits without stopping it (args: home, name).
 */
public final class DetachedBoxCreator {
    private DetachedBoxCreator() {
    }

    public static void main(String[] args) {
        try (Boxlite runtime = Boxlite.open(Options.builder().home(Path.of(args[0])).build())) {
            Box box = runtime.create(BoxOptions.builder().image(BoxTestSupport.IMAGE).memoryMib(256).detach(true)
                    .autoRemove(false).build(), args[1]);
            box.start();
            System.out.println(box.id());
        }
        System.exit(0);
    }
}
