package io.boxlite.vmm.loader;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * Where a kernel landed in guest memory and how to enter it.
 *
 * @param loadAddress first byte of the loaded kernel
 * @param end         first byte past what the kernel needs at boot (the loaded bytes, or
 *                    {@code init_size} from the load address when larger)
 * @param entry64     the 64-bit entry point (bzImage: load + 0x200; ELF: e_entry)
 * @param header      the bzImage setup header (empty for ELF)
 * @param pvhEntry    the 32-bit PVH entry of an ELF vmlinux's Xen note, if any
 */
public record LoadedKernel(long loadAddress, long end, long entry64, Optional<SetupHeader> header,
                           OptionalLong pvhEntry) {
}
