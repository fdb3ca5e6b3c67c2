package io.boxlite.vmm.vstate;

import io.boxlite.InvalidArgumentException;
import io.boxlite.NotFoundException;
import io.boxlite.StorageException;
import io.boxlite.vmm.arch.x86_64.acpi.MmioDeviceInfo;
import io.boxlite.vmm.devices.legacy.ConsoleLog;
import io.boxlite.vmm.devices.virtio.VirtioDevice;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a {@link Vm} boots: kernel and initrd bytes, command line, vCPUs, memory, the console,
 * the virtio devices it serves over virtio-mmio ({@link #virtioDevices}: the VM places, wires and
 * announces each) and extra virtio-mmio windows to announce only ({@link #virtioMmio}: for test
 * devices registered by hand). Built with {@link #builder()}; the image arrays are shared, not
 * copied: do not modify them.
 *
 * {@snippet :
 * VmConfig config = VmConfig.builder().kernel(Path.of("vmlinuz")).initrd(Path.of("initrd.gz"))
 *         .cmdline(VmConfig.DEFAULT_LINUX_CMDLINE).vcpus(2).memoryMib(512).build();
 * }
 */
public record VmConfig(int vcpus, long memoryMib, byte[] kernel, String kernelName, Optional<byte[]> initrd,
                       String cmdline, ApStart apStart, ConsoleLog console, List<MmioDeviceInfo> virtioMmio,
                       List<VirtioDevice> virtioDevices) {
    /** Console on COM1, reboot through the i8042 (how the guest exits), no reboot loop on panic. */
    public static final String DEFAULT_LINUX_CMDLINE = "console=ttyS0 reboot=k panic=-1 pci=off";
    /** vCPUs KVM reports as recommended maximum here can be more; keep a sane cap. */
    public static final int MAX_VCPUS = 64;

    /** How vCPUs other than 0 start. */
    public enum ApStart {
        /** As on a PC: they wait for INIT/SIPI from the boot CPU (Linux). */
        WAIT_FOR_SIPI,
        /** Runnable at once in long mode at the kernel entry, RSP 0 (test guests pick their own stack). */
        RUNNABLE_AT_ENTRY
    }

    public VmConfig {
        Objects.requireNonNull(kernel, "kernel");
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new InvalidArgumentException("vCPU count must be 1–" + MAX_VCPUS + ": " + vcpus);
        }
        if (memoryMib < 8 || memoryMib > (1L << 20)) {
            throw new InvalidArgumentException("guest memory must be 8 MiB – 1 TiB: " + memoryMib + " MiB");
        }
        virtioMmio = List.copyOf(virtioMmio);
        virtioDevices = List.copyOf(virtioDevices);
        if (virtioMmio.size() + virtioDevices.size() > VirtioMmioSlot.MAX_SLOTS) {
            throw new InvalidArgumentException("at most " + VirtioMmioSlot.MAX_SLOTS + " virtio-mmio devices fit the "
                    + "legacy interrupt lines: " + (virtioMmio.size() + virtioDevices.size()) + " given");
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link VmConfig}; not thread-safe. */
    public static final class Builder {
        private int vcpus = 1;
        private long memoryMib = 128;
        private byte[] kernel;
        private String kernelName = "kernel";
        private byte[] initrd;
        private String cmdline = DEFAULT_LINUX_CMDLINE;
        private ApStart apStart = ApStart.WAIT_FOR_SIPI;
        private ConsoleLog console;
        private final List<MmioDeviceInfo> virtio = new ArrayList<>();
        private final List<VirtioDevice> devices = new ArrayList<>();

        public Builder vcpus(int n) {
            this.vcpus = n;
            return this;
        }

        public Builder memoryMib(long mib) {
            this.memoryMib = mib;
            return this;
        }

        public Builder kernel(byte[] image, String name) {
            this.kernel = image.clone();
            this.kernelName = name;
            return this;
        }

        public Builder kernel(Path path) {
            this.kernel = readFile(path, "kernel"); // fresh array: no copy needed
            this.kernelName = path.toString();
            return this;
        }

        public Builder initrd(byte[] image) {
            this.initrd = image.clone();
            return this;
        }

        public Builder initrd(Path path) {
            this.initrd = readFile(path, "initrd");
            return this;
        }

        public Builder cmdline(String line) {
            this.cmdline = line;
            return this;
        }

        public Builder apStart(ApStart start) {
            this.apStart = start;
            return this;
        }

        /** Where COM1 output goes; default: a 64 KiB in-memory tail. */
        public Builder console(ConsoleLog log) {
            this.console = log;
            return this;
        }

        /** Announces a virtio-mmio transport in the DSDT. */
        public Builder virtioMmio(MmioDeviceInfo device) {
            virtio.add(device);
            return this;
        }

        /**
         * Serves {@code device} to the guest on a virtio-mmio transport: the VM gives it the next
         * free window and interrupt line, announces it in the DSDT, kicks it through an ioeventfd
         * and interrupts through an irqfd. Devices keep their order (the first is the guest's
         * first virtio-mmio device, e.g. {@code /dev/vda}). The VM resets the device when it closes.
         */
        public Builder virtioDevice(VirtioDevice device) {
            devices.add(Objects.requireNonNull(device, "device"));
            return this;
        }

        public VmConfig build() {
            if (kernel == null) {
                throw new InvalidArgumentException("no kernel given");
            }
            return new VmConfig(vcpus, memoryMib, kernel, kernelName, Optional.ofNullable(initrd), cmdline, apStart,
                    console == null ? ConsoleLog.inMemory(64 << 10) : console, virtio, devices);
        }

        private static byte[] readFile(Path path, String what) {
            try {
                return Files.readAllBytes(path);
            } catch (NoSuchFileException e) {
                throw new NotFoundException(what + " " + path + " does not exist");
            } catch (IOException e) {
                throw new StorageException("cannot read " + what + " " + path + ": " + e.getMessage(), e);
            }
        }
    }
}
