package io.boxlite.cli;

import io.boxlite.InvalidArgumentException;
import io.boxlite.Options;
import io.boxlite.home.BoxliteHome;
import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.registry.Credentials;
import io.boxlite.oci.registry.ImagePuller;
import io.boxlite.oci.registry.PullListener;
import io.boxlite.oci.registry.RegistryOptions;
import io.boxlite.oci.store.GcResult;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code boxlite pull}, {@code boxlite images} and {@code boxlite rmi}. */
final class ImageCommands {
    private ImageCommands() {
    }

    static ImageStore openStore(Main main) {
        return ImageStore.open(BoxliteHome.resolve(main.options(), main.env));
    }

    /** {@code boxlite pull IMAGE}. */
    @Command(name = "pull", mixinStandardHelpOptions = true,
            description = "Pull an image from a registry into the local image store.")
    static final class Pull implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "IMAGE", description = "e.g. busybox, python:3.12-slim, "
                + "registry:5000/team/app@sha256:…")
        String image;

        @Option(names = {"-q", "--quiet"}, description = "Print only the image reference.")
        boolean quiet;

        @Option(names = "--insecure-registry", paramLabel = "HOST[:PORT]",
                description = "Reach this registry over plain http (repeatable). Loopback "
                        + "registries always are.")
        List<String> insecure = new ArrayList<>();

        @Option(names = "--creds", paramLabel = "USER:PASSWORD",
                description = "Credentials for the image's registry.")
        String creds;

        @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]",
                description = "Platform to pick from multi-platform images (default: this host).")
        String platform;

        @Override
        public Integer call() {
            ImageReference reference = ImageReference.parse(image);
            var options = RegistryOptions.builder();
            insecure.forEach(options::insecureRegistry);
            if (creds != null) {
                int colon = creds.indexOf(':');
                if (colon <= 0) {
                    throw new InvalidArgumentException("--creds must be USER:PASSWORD");
                }
                options.credentials(reference.registry(), new Credentials.Basic(
                        creds.substring(0, colon), creds.substring(colon + 1)));
            }
            if (platform != null) {
                options.platform(parsePlatform(platform));
            }
            PrintWriter out = spec.commandLine().getOut();
            try (ImageStore store = openStore(main)) {
                PullListener listener = quiet ? PullListener.NONE
                        : new Progress(out, System.console() != null
                                && System.console().isTerminal());
                if (!quiet) {
                    out.println("Pulling " + reference);
                    out.flush();
                }
                ImageRecord record = new ImagePuller(store, options.build())
                        .pull(reference, listener);
                if (!quiet) {
                    out.println("Digest: " + record.indexDigest().orElse(record.manifestDigest()));
                }
                out.println(record.reference());
                out.flush();
            }
            return 0;
        }

        private static Platform parsePlatform(String text) {
            String[] parts = text.split("/", -1);
            if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
                throw new InvalidArgumentException("Invalid --platform '" + text
                        + "': expected OS/ARCH[/VARIANT], e.g. linux/arm64");
            }
            return new Platform(parts[0], parts[1],
                    parts.length == 3 ? Optional.of(parts[2]) : Optional.empty());
        }
    }

    /**
     * Per-layer progress: on a terminal, one line per blob redrawn in place (at most 10 times a
     * second); otherwise one plain line per blob when it starts and when it is done.
     */
    static final class Progress implements PullListener {
        private final PrintWriter out;
        private final boolean tty;
        private final Map<Digest, String> lines = new LinkedHashMap<>();
        private long lastDraw;
        private int drawn;

        Progress(PrintWriter out, boolean tty) {
            this.out = out;
            this.tty = tty;
        }

        @Override
        public synchronized void resolved(ImageReference reference, Digest manifest,
                                          List<Descriptor> layers) {
            for (Descriptor layer : layers) {
                lines.put(layer.digest(), "Waiting");
                if (!tty) {
                    out.println(layer.digest().shortHex() + ": Pulling fs layer ("
                            + human(layer.size()) + ")");
                }
            }
            draw(true);
        }

        @Override
        public synchronized void progress(Digest blob, long done, long total) {
            if (lines.containsKey(blob)) {
                lines.put(blob, "Downloading " + human(done) + "/" + human(total));
                draw(false);
            }
        }

        @Override
        public synchronized void blobDone(Digest blob, boolean alreadyPresent) {
            if (lines.containsKey(blob)) {
                String status = alreadyPresent ? "Already exists" : "Pull complete";
                lines.put(blob, status);
                if (!tty) {
                    out.println(blob.shortHex() + ": " + status);
                    out.flush();
                }
                draw(true);
            }
        }

        private void draw(boolean force) {
            if (!tty) {
                return;
            }
            long now = System.nanoTime();
            if (!force && now - lastDraw < 100_000_000L) {
                return;
            }
            lastDraw = now;
            var frame = new StringBuilder();
            if (drawn > 0) {
                frame.append("\033[").append(drawn).append('A');
            }
            lines.forEach((digest, status) -> frame.append("\033[2K").append(digest.shortHex())
                    .append(": ").append(status).append('\n'));
            drawn = lines.size();
            out.print(frame);
            out.flush();
        }
    }

    /** {@code boxlite images}. */
    @Command(name = "images", mixinStandardHelpOptions = true,
            description = "List the images in the local store.")
    static final class Images implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Spec
        CommandSpec spec;

        @Option(names = {"-q", "--quiet"}, description = "Print only image ids.")
        boolean quiet;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (ImageStore store = openStore(main)) {
                List<ImageRecord> images = store.list();
                if (quiet) {
                    images.stream().map(r -> r.manifestDigest().shortHex()).distinct()
                            .forEach(out::println);
                    out.flush();
                    return 0;
                }
                var rows = new ArrayList<String[]>();
                rows.add(new String[] {"REPOSITORY", "TAG", "IMAGE ID", "PULLED", "SIZE"});
                for (ImageRecord image : images) {
                    ImageReference ref = ImageReference.parse(image.reference());
                    rows.add(new String[] {familiar(ref), ref.tag().orElse("<none>"),
                            image.manifestDigest().shortHex(), ago(image.pulledAt()),
                            human(image.size())});
                }
                int[] widths = new int[5];
                for (String[] row : rows) {
                    for (int i = 0; i < row.length; i++) {
                        widths[i] = Math.max(widths[i], row[i].length());
                    }
                }
                for (String[] row : rows) {
                    var line = new StringBuilder();
                    for (int i = 0; i < row.length; i++) {
                        line.append(i < row.length - 1
                                ? String.format("%-" + (widths[i] + 3) + "s", row[i]) : row[i]);
                    }
                    out.println(line.toString().stripTrailing());
                }
                out.flush();
            }
            return 0;
        }
    }

    /** {@code boxlite rmi IMAGE...}. */
    @Command(name = "rmi", mixinStandardHelpOptions = true,
            description = "Remove images from the local store and free their unshared blobs.")
    static final class Rmi implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Spec
        CommandSpec spec;

        @Option(names = {"-f", "--force"}, description = "Untag even if a box still uses the "
                + "image (its blobs stay until the box is gone).")
        boolean force;

        @Parameters(paramLabel = "IMAGE", arity = "1..*",
                description = "Image references or ids.")
        List<String> images;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (ImageStore store = openStore(main)) {
                Set<Digest> freed = new TreeSet<>();
                for (String image : images) {
                    for (ImageRecord removed : store.remove(image, force)) {
                        out.println("Untagged: " + removed.reference());
                        freed.addAll(store.blobsOf(removed));
                    }
                }
                GcResult gc = store.gc(ImageStore.DEFAULT_GC_GRACE, freed);
                gc.removedBlobs().forEach(d -> out.println("Deleted: " + d));
                out.flush();
            }
            return 0;
        }
    }

    /** Docker's short form: {@code busybox} for {@code docker.io/library/busybox}. */
    static String familiar(ImageReference ref) {
        if (ref.registry().equals(ImageReference.DOCKER_HUB)) {
            return ref.repository().startsWith("library/")
                    ? ref.repository().substring("library/".length()) : ref.repository();
        }
        return ref.name();
    }

    static String human(long bytes) {
        if (bytes < 1000) {
            return bytes + "B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1000 && unit < units.length - 1) {
            value /= 1000;
            unit++;
        }
        return String.format(Locale.ROOT, value < 10 ? "%.2f%s" : value < 100 ? "%.1f%s"
                : "%.0f%s", value, units[unit]);
    }

    static String ago(Instant when) {
        Duration d = Duration.between(when, Instant.now());
        if (d.toMinutes() < 1) {
            return "Less than a minute ago";
        }
        if (d.toMinutes() < 2) {
            return "About a minute ago";
        }
        if (d.toHours() < 1) {
            return d.toMinutes() + " minutes ago";
        }
        if (d.toHours() < 2) {
            return "About an hour ago";
        }
        if (d.toDays() < 2) {
            return d.toHours() + " hours ago";
        }
        return d.toDays() + " days ago";
    }
}
