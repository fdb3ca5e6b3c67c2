package io.boxlite.guest;

import io.boxlite.ErrorCode;
import io.boxlite.BoxliteException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A kernel's loadable modules as {@code modules.dep} describes them, and the load order of a
 * set of modules with everything they depend on.
 */
public final class KernelModules {
    private final Path modulesDir;
    private final Map<String, String> pathByName;         // "virtio_blk" → "kernel/drivers/block/virtio_blk.ko"
    private final Map<String, List<String>> depsByPath;   // path → dependency paths

    private KernelModules(Path modulesDir, Map<String, String> pathByName, Map<String, List<String>> depsByPath) {
        this.modulesDir = modulesDir;
        this.pathByName = pathByName;
        this.depsByPath = depsByPath;
    }

    /** Reads {@code modules.dep} of a kernel's {@code lib/modules/<version>} directory. */
    public static KernelModules read(Path modulesDir) {
        Path dep = modulesDir.resolve("modules.dep");
        List<String> lines;
        try {
            lines = Files.readAllLines(dep);
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.CONFIG, "Cannot read " + dep
                    + ": the guest kernel's modules are incomplete; run bin/fetch-kernel", e);
        }
        Map<String, String> byName = new LinkedHashMap<>();
        Map<String, List<String>> deps = new LinkedHashMap<>();
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String path = line.substring(0, colon).strip();
            String rest = line.substring(colon + 1).strip();
            deps.put(path, rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
            byName.put(moduleName(path), path);
        }
        return new KernelModules(modulesDir, byName, deps);
    }

    /** "kernel/fs/fuse/virtiofs.ko" (or .ko.xz/.ko.zst) → "virtiofs"; dashes and underscores are one. */
    static String moduleName(String path) {
        String file = path.substring(path.lastIndexOf('/') + 1);
        int ko = file.indexOf(".ko");
        return (ko < 0 ? file : file.substring(0, ko)).replace('-', '_');
    }

    /**
     * The module files to load, in an order where each comes after its dependencies.
     *
     * @throws BoxliteException if a module is not in this kernel (built-in ones count as absent:
     *         callers pass only modules, see {@code modules.builtin})
     */
    public List<Path> loadOrder(List<String> names) {
        Set<String> ordered = new LinkedHashSet<>();
        for (String name : names) {
            String path = pathByName.get(name.replace('-', '_'));
            if (path == null) {
                throw new BoxliteException(ErrorCode.CONFIG, "Kernel module " + name + " is not in "
                        + modulesDir.resolve("modules.dep") + ": is it built in, or is this the wrong kernel?");
            }
            visit(path, ordered, new LinkedHashSet<>());
        }
        List<Path> files = new ArrayList<>();
        for (String path : ordered) {
            files.add(modulesDir.resolve(path));
        }
        return files;
    }

    private void visit(String path, Set<String> ordered, Set<String> visiting) {
        if (ordered.contains(path)) {
            return;
        }
        if (!visiting.add(path)) {
            throw new BoxliteException(ErrorCode.CONFIG, "modules.dep has a dependency cycle through " + path);
        }
        for (String dep : depsByPath.getOrDefault(path, List.of())) {
            visit(dep, ordered, visiting);
        }
        ordered.add(path);
    }
}
