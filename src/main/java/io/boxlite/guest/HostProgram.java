package io.boxlite.guest;

import io.boxlite.NotFoundException;
import io.boxlite.StorageException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A dynamically linked host program packed for the initramfs with everything the guest's loader
 * needs to run it: the program, its interpreter ({@code PT_INTERP}) and the closure of its
 * {@code DT_NEEDED} libraries, each at the path where the loader looks for it. The guest kernel
 * runs the host's own glibc binaries this way (both are x86_64 Linux), with no guest userland.
 *
 * {@snippet :
 * Map<String, byte[]> files = HostProgram.resolve(Path.of("/usr/sbin/resize2fs"), "sbin/resize2fs").files();
 * Initramfs.of(kernel, agent, Initramfs.BOX_MODULES, files);
 * }
 *
 * @param files archive path (relative) → content: the program, its loader and its libraries
 */
public record HostProgram(Map<String, byte[]> files) {
    /** Where glibc's loader looks on Debian x86_64 without an {@code ld.so.cache}, in order. */
    static final List<String> LIBRARY_DIRS = List.of("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
            "/lib64", "/usr/lib64", "/lib", "/usr/lib");
    /** Far more than any real program needs; stops a pathological closure. */
    private static final int MAX_LIBRARIES = 64;

    public HostProgram {
        files = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(files));
    }

    /**
     * Reads {@code program} and the files it needs from the host.
     *
     * @param archivePath where the program goes in the archive, e.g. {@code sbin/resize2fs}
     * @throws NotFoundException if the program or a library it needs is missing
     * @throws io.boxlite.UnsupportedException if one of them is not an ELF64 little-endian file
     */
    public static HostProgram resolve(Path program, String archivePath) {
        return resolve(program, archivePath, LIBRARY_DIRS);
    }

    static HostProgram resolve(Path program, String archivePath, List<String> libraryDirs) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        byte[] bytes = read(program, program + " is missing");
        files.put(archivePath, bytes);
        ElfFile elf = ElfFile.parse(bytes, program.toString());
        elf.interpreter().ifPresent(interp -> files.put(relative(interp),
                read(Path.of(interp), program + " needs its loader " + interp + ", which is missing")));
        Deque<String> pending = new ArrayDeque<>(elf.needed());
        Map<String, Boolean> seen = new LinkedHashMap<>();
        // why: libc names the loader too; the loader answers to its own soname, so no second copy
        elf.interpreter().ifPresent(interp -> seen.put(Path.of(interp).getFileName().toString(), Boolean.TRUE));
        while (!pending.isEmpty()) {
            String name = pending.removeFirst();
            if (seen.putIfAbsent(name, Boolean.TRUE) != null) {
                continue;
            }
            if (seen.size() > MAX_LIBRARIES) {
                throw new NotFoundException(program + " needs more than " + MAX_LIBRARIES + " libraries");
            }
            Path library = find(name, libraryDirs).orElseThrow(() -> new NotFoundException(program + " needs "
                    + name + ", which is in none of " + libraryDirs + ": reinstall the package that provides it"));
            byte[] lib = read(library, library + " vanished while it was read");
            files.putIfAbsent(relative(library.toString()), lib);
            pending.addAll(ElfFile.parse(lib, library.toString()).needed());
        }
        return new HostProgram(files);
    }

    private static Optional<Path> find(String name, List<String> dirs) {
        if (name.contains("/")) {
            return Optional.of(Path.of(name)).filter(Files::isRegularFile);
        }
        return dirs.stream().map(d -> Path.of(d, name)).filter(Files::isRegularFile).findFirst();
    }

    private static String relative(String absolute) {
        return absolute.startsWith("/") ? absolute.substring(1) : absolute;
    }

    private static byte[] read(Path file, String missing) {
        try {
            return Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new NotFoundException(missing, e);
        } catch (IOException e) {
            throw new StorageException("Cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
