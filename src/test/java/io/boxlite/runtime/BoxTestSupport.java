package io.boxlite.runtime;

import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.kernel.GuestKernel;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.fixtures.Fixtures;
import io.boxlite.oci.store.ImageStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Homes with the offline busybox test image, for tests on real boxes. */
public final class BoxTestSupport {
    public static final String IMAGE = "localhost/busybox:latest";

    private BoxTestSupport() {
    }

    /** Skips (loudly) unless QEMU, e2fsprogs and the guest kernel are installed. */
    public static void assumeBoxesCanRun() {
        boolean qemu = Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64"));
        boolean mkfs = Files.isExecutable(Path.of("/sbin/mke2fs")) || Files.isExecutable(Path.of("/usr/sbin/mke2fs"));
        boolean kernel;
        try {
            GuestKernel.locate(Options.defaults());
            kernel = true;
        } catch (RuntimeException e) {
            kernel = false;
        }
        if (!(qemu && mkfs && kernel)) {
            System.err.println("*** SKIPPING box tests: qemu-system-x86, e2fsprogs or the guest kernel is missing "
                    + "(run bin/setup) ***");
        }
        assumeTrue(qemu && mkfs && kernel, "QEMU, e2fsprogs and the guest kernel are needed (bin/setup)");
    }

    /** Creates a home at {@code dir} holding the busybox test image as {@value #IMAGE}. */
    public static Path homeWithImage(Path dir) {
        BoxliteHome home = BoxliteHome.resolve(Options.builder().home(dir).build()).open();
        try (ImageStore store = ImageStore.open(home)) {
            store.importer().importLayout(Fixtures.images().layout(), Optional.of("busybox"),
                    Optional.of(ImageReference.parse(IMAGE)), Platform.host());
        }
        return dir;
    }
}
