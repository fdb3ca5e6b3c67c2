package io.boxlite.rootfs;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.Digest;
import io.boxlite.oci.store.ImageStore;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds one image's rootfs in a child JVM, for the tests that need another process or another
 * user: {@code BuildMain HOME MANIFEST-DIGEST}. Prints {@code uid=… path=… built=…}.
 */
public final class BuildMain {
    private BuildMain() {
    }

    public static void main(String[] args) throws Exception {
        var home = BoxliteHome.resolve(Options.builder().home(Path.of(args[0])).build());
        try (var store = ImageStore.open(home)) {
            Rootfs rootfs = RootfsBuilder.create(store).build(Digest.parse(args[1]));
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            System.out.println("uid=" + uid + " path=" + rootfs.image() + " built="
                    + rootfs.built());
        }
    }
}
