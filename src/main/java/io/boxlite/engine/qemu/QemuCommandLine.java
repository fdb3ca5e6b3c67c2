package io.boxlite.engine.qemu;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The QEMU command line of a box: {@code -M microvm} with its ACPI tables on (that is how
 * Debian's kernel finds virtio-mmio devices), guest RAM in a shared memfd (vhost-user back ends
 * map it), modern virtio-mmio, and every device a vhost-user socket served by BoxLite.
 */
public record QemuCommandLine(Path binary, boolean kvm, int cpus, int memoryMib, Path kernel, Path initrd,
                              String kernelCmdline, Path serialLog, Path qmpSocket, List<VhostUserDevice> devices,
                              List<String> extraArguments) {

    /** One vhost-user device: QEMU's device type (e.g. {@code vhost-user-vsock-device}) and our socket. */
    public record VhostUserDevice(String type, Path socket, List<String> properties) {
        public VhostUserDevice {
            Objects.requireNonNull(type);
            Objects.requireNonNull(socket);
            properties = List.copyOf(properties);
        }
    }

    public QemuCommandLine {
        if (cpus < 1 || cpus > 255) {
            throw new IllegalArgumentException("cpus must be 1..255: " + cpus);
        }
        if (memoryMib < 64) {
            throw new IllegalArgumentException("memory must be at least 64 MiB: " + memoryMib);
        }
        if (kernelCmdline.contains("\n")) {
            throw new IllegalArgumentException("the kernel command line must be one line");
        }
        devices = List.copyOf(devices);
        extraArguments = List.copyOf(extraArguments);
    }

    /** A command line without extra arguments. */
    public QemuCommandLine(Path binary, boolean kvm, int cpus, int memoryMib, Path kernel, Path initrd,
                           String kernelCmdline, Path serialLog, Path qmpSocket, List<VhostUserDevice> devices) {
        this(binary, kvm, cpus, memoryMib, kernel, initrd, kernelCmdline, serialLog, qmpSocket, devices, List.of());
    }

    public List<String> arguments() {
        List<String> a = new ArrayList<>(List.of(binary.toString(),
                "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=on,memory-backend=mem",
                "-global", "virtio-mmio.force-legacy=false",
                "-object", "memory-backend-memfd,id=mem,size=" + memoryMib + "M,share=on",
                "-m", memoryMib + "M",
                "-smp", Integer.toString(cpus),
                "-accel", kvm ? "kvm" : "tcg,thread=multi",
                "-cpu", kvm ? "host" : "max",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-chardev", "file,id=console,path=" + escape(serialLog),
                "-serial", "chardev:console",
                "-qmp", "unix:" + escape(qmpSocket) + ",server=on,wait=off",
                "-kernel", kernel.toString(),
                "-initrd", initrd.toString(),
                "-append", kernelCmdline,
                "-no-reboot"));
        for (int i = 0; i < devices.size(); i++) {
            VhostUserDevice d = devices.get(i);
            a.add("-chardev");
            a.add("socket,id=vhost" + i + ",path=" + escape(d.socket()));
            a.add("-device");
            StringBuilder dev = new StringBuilder(d.type()).append(",chardev=vhost").append(i);
            d.properties().forEach(p -> dev.append(',').append(p));
            a.add(dev.toString());
        }
        a.addAll(extraArguments);
        return List.copyOf(a);
    }

    /** QEMU option values separate keys with commas; a literal comma is written twice. */
    static String escape(Path path) {
        return path.toString().replace(",", ",,");
    }
}
