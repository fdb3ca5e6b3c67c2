package io.boxlite.engine;

import io.boxlite.agent.AgentClient;
import io.boxlite.agent.GuestConnector;
import io.boxlite.engine.qemu.QemuGuest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** The QEMU engine behind {@link BoxEngine}: QEMU (KVM or TCG) runs the CPU, our devices serve it. */
public final class QemuBoxEngine implements BoxEngine {
    private final Path qemu;
    private final boolean kvm;
    private final Path kernel;
    private final Path initramfs;
    private final Supplier<Path> growingInitramfs;
    private final String reason;

    /**
     * @param initramfs        what boxes boot
     * @param growingInitramfs what boxes whose root filesystem may need growing boot (built, or
     *                         found in the cache, when such a box starts)
     */
    public QemuBoxEngine(Path qemu, boolean kvm, Path kernel, Path initramfs, Supplier<Path> growingInitramfs,
                         String reason) {
        this.qemu = qemu;
        this.kvm = kvm;
        this.kernel = kernel;
        this.initramfs = initramfs;
        this.growingInitramfs = growingInitramfs;
        this.reason = reason;
    }

    @Override
    public String name() {
        return kvm ? "qemu-kvm" : "qemu-tcg";
    }

    @Override
    public String reason() {
        return reason;
    }

    @Override
    public BoxVm boot(VmSpec spec, Consumer<String> onFailure) {
        QemuGuest guest = QemuGuest.start(new QemuGuest.Spec(qemu, kvm, spec.cpus(), spec.memoryMib(), kernel,
                spec.growRoot() ? growingInitramfs.get() : initramfs, spec.rootDisk(), spec.stateDir(), List.of()),
                onFailure);
        return new Vm(guest, spec.stateDir());
    }

    private record Vm(QemuGuest guest, Path stateDir) implements BoxVm {
        @Override
        public GuestConnector connector() {
            return guest.connector();
        }

        @Override
        public AgentClient awaitAgent(Duration timeout) {
            return guest.awaitAgent(timeout);
        }

        @Override
        public boolean isAlive() {
            return guest.process().isAlive();
        }

        @Override
        public Optional<Integer> awaitExit(Duration timeout) throws InterruptedException {
            return guest.awaitExit(timeout);
        }

        @Override
        public long pid() {
            return guest.process().pid();
        }

        @Override
        public Path consoleLog() {
            return stateDir.resolve("console.log");
        }

        @Override
        public void close() {
            guest.close();
        }
    }
}
