package io.boxlite.lab;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * The class path the outer guest's JVM needs: this JVM's, with a manifest-only launcher jar
 * (Surefire's booter) expanded into the entries it names, and test-only entries (test classes,
 * JUnit, Surefire) left out.
 */
final class LabClasspath {
    private static final List<String> TEST_ONLY = List.of("test-classes", "/org/junit/", "/org/opentest4j/",
            "/org/apiguardian/", "surefire", "/org/openjdk/jmh/");

    private LabClasspath() {
    }

    static List<Path> ofThisJvm() {
        Set<Path> out = new LinkedHashSet<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!entry.isBlank()) {
                add(Path.of(entry).toAbsolutePath().normalize(), out);
            }
        }
        return List.copyOf(out);
    }

    private static void add(Path entry, Set<Path> out) {
        if (!Files.exists(entry) || TEST_ONLY.stream().anyMatch(t -> entry.toString().contains(t)
                && !entry.getFileName().toString().startsWith("surefirebooter"))) {
            return;
        }
        if (entry.getFileName().toString().startsWith("surefirebooter")) {
            for (Path p : manifestClassPath(entry)) {
                add(p, out);
            }
            return;
        }
        out.add(entry);
    }

    private static List<Path> manifestClassPath(Path jar) {
        List<Path> out = new ArrayList<>();
        try (JarFile j = new JarFile(jar.toFile())) {
            Manifest m = j.getManifest();
            String cp = m == null ? null : m.getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
            if (cp != null) {
                for (String u : cp.trim().split("\\s+")) {
                    URI uri = jar.toUri().resolve(u);
                    out.add(Path.of(uri).toAbsolutePath().normalize());
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new io.boxlite.StorageException("cannot read the class path of " + jar + ": " + e.getMessage(), e);
        }
        return out;
    }
}
