package io.boxlite.engine;

import io.boxlite.disk.DiskImage;

import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Boots box VMs: the seam between the runtime and an engine (internal API), implemented by
 * {@link KvmBoxEngine} (BoxLite's own VMM) and {@link QemuBoxEngine}; {@link Engines} picks one.
 */
public interface BoxEngine {
    /**
     * What a box VM needs. {@code stateDir} receives sockets, the console log and engine logs.
     * {@code growRoot}: the root disk may be larger than its filesystem, so the guest boots with
     * the tools to grow it ({@code resize2fs}; other boxes boot a smaller initramfs without them).
     */
    record VmSpec(int cpus, int memoryMib, DiskImage rootDisk, Path stateDir, boolean growRoot) {
        /** A box whose root filesystem already fills its disk. */
        public VmSpec(int cpus, int memoryMib, DiskImage rootDisk, Path stateDir) {
            this(cpus, memoryMib, rootDisk, stateDir, false);
        }
    }

    /** A short name for status and {@code info}, e.g. {@code qemu-tcg}. */
    String name();

    /** Why this engine was chosen, in words. */
    String reason();

    /** Boots the guest; returns once the engine runs (the agent may still be booting). */
    BoxVm boot(VmSpec spec, Consumer<String> onFailure);
}
