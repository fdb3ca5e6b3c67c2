package io.boxlite.rootfs;

import io.boxlite.oci.Descriptor;
import io.boxlite.oci.Digest;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.MediaTypes;
import io.boxlite.oci.Platform;
import io.boxlite.oci.fixtures.LayoutWriter;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Puts images made of hand-made layers into a store, through an OCI layout import. */
final class TestImages {
    private TestImages() {
    }

    /** A layer blob and the tar it uncompresses to. */
    record Layer(String mediaType, byte[] blob, byte[] tar) {
        static Layer gzip(RawTar tar) {
            return new Layer(MediaTypes.OCI_LAYER_GZIP, tar.gzip(), tar.tar());
        }

        static Layer plain(RawTar tar) {
            return new Layer(MediaTypes.OCI_LAYER, tar.tar(), tar.tar());
        }

        static Layer zstd(RawTar tar) {
            byte[] raw = tar.tar();
            return new Layer("application/vnd.oci.image.layer.v1.tar+zstd",
                    com.github.luben.zstd.Zstd.compress(raw), raw);
        }
    }

    /** Imports an image of {@code layers} (base first) as {@code name}. */
    static ImageRecord image(ImageStore store, Path scratch, String name, List<Layer> layers) {
        var writer = new LayoutWriter(scratch.resolve("layout-" + Math.abs(name.hashCode())));
        var descriptors = new ArrayList<Descriptor>();
        var diffIds = new ArrayList<Digest>();
        for (Layer layer : layers) {
            descriptors.add(writer.blob(layer.mediaType(), layer.blob()));
            diffIds.add(Digest.of(layer.tar()));
        }
        Descriptor config = writer.config("amd64", diffIds, List.of("/bin/sh"));
        Descriptor manifest = writer.manifest(config, descriptors);
        writer.tag(manifest, name).writeIndex();
        return store.importer().importLayout(writer.dir(), Optional.of(name),
                Optional.of(ImageReference.parse("test.local/" + name + ":1")),
                Platform.of("linux", "amd64")).getFirst();
    }
}
