package io.boxlite.cli;

import io.boxlite.BoxliteException;
import io.boxlite.engine.EngineProbe;
import io.boxlite.log.Logging;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * The {@code boxlite} command line. Exit status follows Docker: 0 on success, 125 when BoxLite
 * itself fails or the command line is wrong; later, a box's command's own status.
 */
@Command(name = "boxlite",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Runs OCI images in micro-VM sandboxes.",
        subcommands = {BoxCommands.Run.class, BoxCommands.Exec.class, BoxCommands.Create.class,
                BoxCommands.Start.class, BoxCommands.Stop.class, BoxCommands.Restart.class, BoxCommands.Rm.class,
                BoxCommands.Ls.class, BoxCommands.Inspect.class, BoxCommands.Logs.class, BoxCommands.Stats.class,
                BoxCommands.Cp.class, ImageCommands.Pull.class, ImageCommands.Images.class, ImageCommands.Rmi.class,
                BoxCommands.Load.class, BoxCommands.Info.class, DebugCommand.class},
        exitCodeOnInvalidInput = Main.EXIT_RUNTIME_ERROR,
        exitCodeOnExecutionException = Main.EXIT_RUNTIME_ERROR)
public final class Main implements Callable<Integer> {
    /** Docker's status for an error in the runtime itself or in its command line. */
    public static final int EXIT_RUNTIME_ERROR = 125;

    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "Print stack traces with errors (as does BOXLITE_LOG=debug or trace).")
    boolean debug;

    @Option(names = "--home", scope = ScopeType.INHERIT, paramLabel = "DIR",
            description = "The BoxLite home (default: BOXLITE_HOME, else ~/.boxlite).")
    java.nio.file.Path home;

    @Spec
    CommandSpec spec;

    /** Runtime options from the command line ({@code --home}). */
    io.boxlite.Options options() {
        return io.boxlite.Options.builder().home(home == null ? null : home.toAbsolutePath()).build();
    }

    final Map<String, String> env;
    final Supplier<EngineProbe> probes;

    Main(Map<String, String> env, Supplier<EngineProbe> probes) {
        this.env = env;
        this.probes = probes;
    }

    public static void main(String[] args) {
        var out = new PrintWriter(System.out, true);
        var err = new PrintWriter(System.err, true);
        int status = run(args, out, err, System.getenv(),
                () -> EngineProbe.forThisHost());
        out.flush();
        err.flush();
        System.exit(status);
    }

    /** Runs one command line and returns its exit status; {@link #main} without the exit. */
    static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env,
                   Supplier<EngineProbe> probes) {
        java.util.logging.Level logLevel = Logging.configure(env);
        var commandLine = new CommandLine(new Main(env, probes));
        // why: everything after IMAGE or BOX belongs to the box's command, its flags included
        commandLine.getSubcommands().get("run").setStopAtPositional(true);
        commandLine.getSubcommands().get("exec").setStopAtPositional(true);
        commandLine.getSubcommands().get("create").setStopAtPositional(true);
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setParameterExceptionHandler((e, ignored) -> {
            CommandLine failed = e.getCommandLine();
            failed.getErr().println("boxlite: " + e.getMessage());
            failed.getErr().println("See '" + failed.getCommandSpec().qualifiedName() + " --help'.");
            return EXIT_RUNTIME_ERROR;
        });
        commandLine.setExecutionExceptionHandler((e, failed, parseResult) -> {
            PrintWriter stderr = failed.getErr();
            if (e instanceof BoxliteException) {
                stderr.println("boxlite: " + e.getMessage());
            } else {
                stderr.println("boxlite: internal error: " + e
                        + (debugWanted(parseResult, logLevel) ? "" : " (rerun with --debug for the stack trace)"));
            }
            if (debugWanted(parseResult, logLevel)) {
                e.printStackTrace(stderr);
            }
            return EXIT_RUNTIME_ERROR;
        });
        return commandLine.execute(args);
    }

    private static boolean debugWanted(ParseResult parseResult, java.util.logging.Level logLevel) {
        for (ParseResult p = parseResult; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--debug")) {
                return true;
            }
        }
        return logLevel.intValue() <= java.util.logging.Level.FINE.intValue();
    }

    /** Without a subcommand, shows the usage (as {@code docker} does). */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** {@code --version}: the jar's version and the Java runtime it runs on. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Optional.ofNullable(Main.class.getPackage().getImplementationVersion())
                    .orElse("(development build)");
            return new String[] {
                    "boxlite " + version,
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"
            };
        }
    }
}
