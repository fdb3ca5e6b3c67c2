package io.boxlite.cli;

import io.boxlite.Options;
import io.boxlite.kernel.GuestKernel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code boxlite debug}: looks at the host and the installed pieces without running a box. */
@Command(name = "debug",
        mixinStandardHelpOptions = true,
        description = "Inspect this host and BoxLite's installed pieces.",
        subcommands = {DebugCommand.Probe.class, DebugCommand.Kernel.class})
final class DebugCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** {@code boxlite debug probe}: which engine can run guests here, and why. */
    @Command(name = "probe",
            mixinStandardHelpOptions = true,
            description = "Probe KVM and QEMU on this host and show which engine boxes would use.")
    static final class Probe implements Callable<Integer> {
        @ParentCommand
        DebugCommand debug;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().getOut().print(debug.main.probes.get().probe(Options.defaults()).render());
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    /** {@code boxlite debug kernel}: the guest kernel boxes would boot. */
    @Command(name = "kernel",
            mixinStandardHelpOptions = true,
            description = "Show the guest kernel that boxes would boot.")
    static final class Kernel implements Callable<Integer> {
        @ParentCommand
        DebugCommand debug;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            GuestKernel kernel = GuestKernel.locate(Options.defaults(), debug.main.env);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("Version:  %s%n", kernel.version());
            out.printf("Package:  %s (Debian package version)%n", kernel.packageVersion());
            out.printf("Dir:      %s%n", kernel.dir());
            out.printf("Image:    %s%n", kernel.vmlinuz());
            out.printf("Modules:  %s%n", kernel.modulesDir());
            out.flush();
            return 0;
        }
    }
}
