package io.boxlite.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.boxlite.Box;
import io.boxlite.BoxCommand;
import io.boxlite.BoxInfo;
import io.boxlite.BoxMetrics;
import io.boxlite.BoxOptions;
import io.boxlite.BoxState;
import io.boxlite.Boxlite;
import io.boxlite.BoxliteException;
import io.boxlite.EngineUnavailableException;
import io.boxlite.ErrorCode;
import io.boxlite.InvalidArgumentException;
import io.boxlite.NotFoundException;
import io.boxlite.engine.EngineProbe;
import io.boxlite.engine.ProbeReport;
import io.boxlite.oci.ImageReference;
import io.boxlite.oci.Platform;
import io.boxlite.oci.store.ImageRecord;
import io.boxlite.oci.store.ImageStore;
import io.boxlite.runtime.BoxDatabase;
import io.boxlite.runtime.BoxRuntime;
import io.boxlite.runtime.BoxStore;
import io.boxlite.runtime.BoxHost;
import io.boxlite.runtime.DetachedExec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** The box verbs of the {@code boxlite} CLI, with Docker's semantics. */
final class BoxCommands {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BoxCommands() {
    }

    static Boxlite open(Main main) {
        return Boxlite.open(main.options(), main.env);
    }

    /** {@code boxlite run IMAGE [COMMAND [ARG...]]}. */
    @Command(name = "run", mixinStandardHelpOptions = true, description = {
            "Create a box from IMAGE, start it and run COMMAND (else the image's ENTRYPOINT/CMD) in it.",
            "The command's exit status becomes boxlite's; 125 means BoxLite itself failed, 126 that the command",
            "cannot be invoked, 127 that it was not found. With -d the box runs on in the background."})
    static final class Run implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Mixin
        BoxFlags flags;
        @Option(names = {"-i", "--interactive"}, description = "Keep stdin open and forward it.")
        boolean interactive;
        @Option(names = {"-t", "--tty"}, description = "Give the command a pseudo-terminal.")
        boolean tty;
        @Option(names = {"-d", "--detach"}, description = "Run the box in the background and print its id.")
        boolean detach;
        @Parameters(index = "0", paramLabel = "IMAGE")
        String image;
        @Parameters(index = "1..*", paramLabel = "COMMAND", description = "Command and arguments.")
        List<String> command = new ArrayList<>();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            BoxOptions options = flags.toOptions(image, command, main.env).detach(detach).build();
            try (Boxlite runtime = open(main)) {
                Box box = flags.name == null ? runtime.create(options) : runtime.create(options, flags.name);
                BoxRuntime core = runtime.core();
                if (detach) {
                    core.start(box.id(), true, false);
                    out.println(box.id());
                    out.flush();
                    return 0;
                }
                core.start(box.id(), false, true);
                BoxDatabase.Row row = core.refresh(box.id());
                List<String> argv = row.config().image().mainArgv(row.config().options());
                if (argv.isEmpty()) {
                    throw new InvalidArgumentException("No command given and image " + image
                            + " defines no ENTRYPOINT or CMD");
                }
                int status;
                try {
                    status = Attach.run(box, BoxCommand.builder(argv.getFirst()).args(argv.subList(1, argv.size())),
                            interactive, tty, err);
                    core.localHost(box.id()).ifPresent(h -> h.mainExited(status));
                } finally {
                    box.stop();
                }
                return status;
            }
        }
    }

    /** {@code boxlite exec BOX COMMAND [ARG...]}. */
    @Command(name = "exec", mixinStandardHelpOptions = true,
            description = "Run a command in a running box; its exit status becomes boxlite's.")
    static final class Exec implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Option(names = {"-i", "--interactive"}, description = "Keep stdin open and forward it.")
        boolean interactive;
        @Option(names = {"-t", "--tty"}, description = "Give the command a pseudo-terminal.")
        boolean tty;
        @Option(names = {"-d", "--detach"}, description = {"Start the command in the background, print its exec id and "
                + "return at once;", "its output goes to the box's logs ('boxlite logs --exec ID BOX')."})
        boolean detach;
        @Option(names = {"-e", "--env"}, paramLabel = "KEY=VALUE")
        List<String> env = new ArrayList<>();
        @Option(names = {"-w", "--workdir"})
        String workdir;
        @Option(names = {"-u", "--user"})
        String user;
        @Parameters(index = "0", paramLabel = "BOX")
        String boxName;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "COMMAND")
        List<String> command;

        @Override
        public Integer call() {
            if (detach && (interactive || tty)) {
                throw new InvalidArgumentException("exec -d cannot be combined with -i or -t: a background command "
                        + "reads end-of-file and its output goes to the box's logs ('boxlite logs --exec ID BOX')");
            }
            try (Boxlite runtime = open(main)) {
                Box box = runtime.get(boxName).orElseThrow(() -> new NotFoundException("No such box: " + boxName));
                if (box.info().state() != BoxState.RUNNING) {
                    throw new BoxliteException(ErrorCode.INVALID_STATE, "Box " + boxName + " is not running: start it first");
                }
                BoxCommand.Builder b = BoxCommand.builder(command.getFirst()).args(command.subList(1, command.size()));
                for (String e : env) {
                    int eq = e.indexOf('=');
                    if (eq > 0) {
                        b.env(e.substring(0, eq), e.substring(eq + 1));
                    } else if (main.env.containsKey(e)) {
                        b.env(e, main.env.get(e));
                    }
                }
                if (workdir != null) {
                    b.workingDir(workdir);
                }
                if (user != null) {
                    b.user(user);
                }
                if (detach) {
                    return startInBackground(runtime.core(), box.id(), b.build(), spec.commandLine().getOut(),
                            spec.commandLine().getErr());
                }
                return Attach.run(box, b, interactive, tty, spec.commandLine().getErr());
            }
        }
    }

    /**
     * Starts the command owned by the box's host, prints its exec id and returns 0 once it runs
     * (127/126 when it cannot start, as an attached exec).
     */
    private static int startInBackground(BoxRuntime core, String id, BoxCommand command, PrintWriter out,
                                         PrintWriter err) {
        BoxDatabase.Row row = core.refresh(id);
        DetachedExec started;
        try {
            started = core.execDetached(id, row.config().image().request(row.config().options(), command));
        } catch (BoxliteException e) {
            return Attach.cannotStart(e, err);
        }
        out.println(started.execId());
        out.flush();
        return 0;
    }

    /** {@code boxlite create IMAGE [COMMAND...]}. */
    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create a box (nothing boots until 'start'); print its id.")
    static final class Create implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Mixin
        BoxFlags flags;
        @Parameters(index = "0", paramLabel = "IMAGE")
        String image;
        @Parameters(index = "1..*", paramLabel = "COMMAND")
        List<String> command = new ArrayList<>();

        @Override
        public Integer call() {
            BoxOptions options = flags.toOptions(image, command, main.env).detach(true).build();
            try (Boxlite runtime = open(main)) {
                Box box = flags.name == null ? runtime.create(options) : runtime.create(options, flags.name);
                spec.commandLine().getOut().println(box.id());
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }

    /** {@code boxlite start BOX...}. */
    @Command(name = "start", mixinStandardHelpOptions = true,
            description = "Start boxes in the background (each in a box host process of its own).")
    static final class Start implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Parameters(arity = "1..*", paramLabel = "BOX")
        List<String> boxes;

        @Override
        public Integer call() {
            try (Boxlite runtime = open(main)) {
                for (String b : boxes) {
                    String id = runtime.core().get(b).config().id();
                    runtime.core().start(id, true, false);
                    spec.commandLine().getOut().println(b);
                }
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }

    /** {@code boxlite stop BOX...}. */
    @Command(name = "stop", mixinStandardHelpOptions = true,
            description = "Stop boxes: orderly shutdown, forced after the timeout.")
    static final class Stop implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Option(names = {"-t", "--time"}, description = "Seconds to wait before forcing (default 10).")
        int seconds = 10;
        @Parameters(arity = "1..*", paramLabel = "BOX")
        List<String> boxes;

        @Override
        public Integer call() {
            try (Boxlite runtime = open(main)) {
                for (String b : boxes) {
                    runtime.core().stop(runtime.core().get(b).config().id(), Duration.ofSeconds(seconds));
                    spec.commandLine().getOut().println(b);
                }
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }

    /** {@code boxlite restart BOX...}. */
    @Command(name = "restart", mixinStandardHelpOptions = true, description = "Stop, then start boxes.")
    static final class Restart implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Option(names = {"-t", "--time"}, description = "Seconds to wait before forcing the stop (default 10).")
        int seconds = 10;
        @Parameters(arity = "1..*", paramLabel = "BOX")
        List<String> boxes;

        @Override
        public Integer call() {
            try (Boxlite runtime = open(main)) {
                for (String b : boxes) {
                    String id = runtime.core().get(b).config().id();
                    runtime.core().stop(id, Duration.ofSeconds(seconds));
                    runtime.core().start(id, true, false);
                    spec.commandLine().getOut().println(b);
                }
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }

    /** {@code boxlite rm [-f] [-a] [BOX...]}. */
    @Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove boxes.")
    static final class Rm implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Option(names = {"-f", "--force"}, description = "Stop running boxes first.")
        boolean force;
        @Option(names = {"-a", "--all"}, description = "Every box (running ones only with -f).")
        boolean all;
        @Parameters(arity = "0..*", paramLabel = "BOX")
        List<String> boxes = new ArrayList<>();

        @Override
        public Integer call() {
            if (!all && boxes.isEmpty()) {
                throw new InvalidArgumentException("rm needs at least one BOX, or -a");
            }
            try (Boxlite runtime = open(main)) {
                List<String> ids = new ArrayList<>();
                if (all) {
                    for (BoxInfo i : runtime.list()) {
                        if (force || i.state().canRemove()) {
                            ids.add(i.id());
                        }
                    }
                }
                for (String b : boxes) {
                    ids.add(runtime.core().get(b).config().id());
                }
                for (String id : ids) {
                    runtime.core().remove(id, force);
                    spec.commandLine().getOut().println(id);
                }
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }

    /** {@code boxlite ls|ps|list}. */
    @Command(name = "ls", aliases = {"ps", "list"}, mixinStandardHelpOptions = true, description = "List boxes.")
    static final class Ls implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Option(names = {"-a", "--all"}, description = "Show every box (default: running ones).")
        boolean all;
        @Option(names = {"-q", "--quiet"}, description = "Print only ids.")
        boolean quiet;
        @Option(names = "--format", description = "table (default) or json.")
        String format = "table";

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Boxlite runtime = open(main)) {
                List<BoxInfo> boxes = runtime.list().stream().filter(i -> all || i.running()).toList();
                if (quiet) {
                    boxes.forEach(i -> out.println(i.id()));
                } else if (format.equals("json")) {
                    ArrayNode array = JSON.createArrayNode();
                    boxes.forEach(i -> array.add(json(i)));
                    out.println(array.toString());
                } else if (format.equals("table")) {
                    List<String[]> rows = new ArrayList<>();
                    rows.add(new String[] {"BOX ID", "IMAGE", "STATUS", "CREATED", "NAMES"});
                    for (BoxInfo i : boxes) {
                        rows.add(new String[] {i.id(), shortImage(i.image()), status(i),
                                ImageCommands.ago(i.createdAt()), i.name().orElse("")});
                    }
                    printTable(out, rows);
                } else {
                    throw new InvalidArgumentException("--format " + format + ": use table or json");
                }
                out.flush();
            }
            return 0;
        }

        private static String status(BoxInfo i) {
            return switch (i.state()) {
                case RUNNING -> "Running" + (i.detached() ? "" : " (in-process)");
                case STOPPED -> "Stopped" + i.exitCode().map(c -> " (" + c + ")").orElse("");
                case FAILED -> "Failed";
                case CONFIGURED -> "Created";
                case STOPPING -> "Stopping";
            };
        }
    }

    static ObjectNode json(BoxInfo i) {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", i.id());
        i.name().ifPresentOrElse(v -> n.put("name", v), () -> n.putNull("name"));
        n.put("state", i.state().label());
        n.put("running", i.running());
        n.put("image", i.image());
        n.put("created_at", i.createdAt().toString());
        n.put("cpus", i.cpus());
        n.put("memory_mib", i.memoryMib());
        i.pid().ifPresentOrElse(v -> n.put("pid", v), () -> n.putNull("pid"));
        n.put("detached", i.detached());
        i.engine().ifPresent(v -> n.put("engine", v));
        i.exitCode().ifPresent(v -> n.put("exit_code", v));
        i.error().ifPresent(v -> n.put("error", v));
        n.put("auto_remove", i.autoRemove());
        i.startedAt().ifPresent(v -> n.put("started_at", v.toString()));
        i.stoppedAt().ifPresent(v -> n.put("stopped_at", v.toString()));
        return n;
    }

    private static String shortImage(String ref) {
        try {
            ImageReference r = ImageReference.parse(ref);
            return ImageCommands.familiar(r) + r.tag().map(t -> ":" + t).orElse("");
        } catch (BoxliteException e) {
            return ref;
        }
    }

    static void printTable(PrintWriter out, List<String[]> rows) {
        int[] widths = new int[rows.getFirst().length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                line.append(i < row.length - 1 ? String.format("%-" + (widths[i] + 3) + "s", row[i]) : row[i]);
            }
            out.println(line.toString().stripTrailing());
        }
    }

    /** {@code boxlite inspect BOX...}. */
    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Print boxes' configuration and state as JSON.")
    static final class Inspect implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Parameters(arity = "1..*", paramLabel = "BOX")
        List<String> boxes;

        @Override
        public Integer call() throws Exception {
            ArrayNode array = JSON.createArrayNode();
            try (Boxlite runtime = open(main)) {
                for (String b : boxes) {
                    BoxDatabase.Row row = runtime.core().refresh(runtime.core().get(b).config().id());
                    Path file = runtime.core().store().boxDir(row.config().id()).resolve(BoxStore.CONFIG);
                    ObjectNode n = (ObjectNode) JSON.readTree(Files.readAllBytes(file));
                    n.put("box_dir", file.getParent().toString());
                    array.add(n);
                }
            }
            spec.commandLine().getOut().println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(array));
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    /** {@code boxlite logs [-f] [-n N] [--console | --exec ID] BOX}. */
    @Command(name = "logs", mixinStandardHelpOptions = true, description = {
            "Print a box's log: its main command's output (boxes started with -d and a command), else its",
            "console (the guest kernel's serial console); --console always shows the console, --exec ID the",
            "output of a command started with 'exec -d'. With -f, follow the log until the box (or that",
            "command) ends, or until interrupted."})
    static final class Logs implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Option(names = "--console", description = "Show the guest console.")
        boolean console;
        @Option(names = "--exec", paramLabel = "ID", description = "Show the output of background command ID.")
        String exec;
        @Option(names = {"-f", "--follow"}, description = "Keep printing what is appended until the box stops.")
        boolean follow;
        @Option(names = {"-n", "--tail"}, paramLabel = "N", description = "Only the last N lines.")
        Integer tail;
        @Parameters(paramLabel = "BOX")
        String box;

        @Override
        public Integer call() throws Exception {
            if (tail != null && tail < 0) {
                throw new InvalidArgumentException("--tail " + tail + ": must be 0 or more");
            }
            if (console && exec != null) {
                throw new InvalidArgumentException("logs: give --console or --exec, not both");
            }
            if (exec != null && !io.boxlite.runtime.Ulid.isUlid(exec)) {
                throw new InvalidArgumentException("--exec " + exec + ": not an exec id (exec -d prints one)");
            }
            PrintWriter out = spec.commandLine().getOut();
            int lines = tail == null ? -1 : tail;
            try (Boxlite runtime = open(main)) {
                BoxRuntime core = runtime.core();
                String id = core.get(box).config().id();
                Path dir = core.store().boxDir(id);
                Path log = logOf(dir);
                if (!follow) {
                    LogFollower.print(log, lines, out);
                    return 0;
                }
                BooleanSupplier boxEnded = () -> !running(core, id);
                BooleanSupplier ended = exec == null ? boxEnded
                        : () -> boxEnded.getAsBoolean() || execEnded(DetachedExec.status(dir, exec));
                LogFollower.follow(log, lines, out, ended);
            }
            return 0;
        }

        private Path logOf(Path dir) {
            if (exec != null) {
                if (!Files.isRegularFile(DetachedExec.status(dir, exec))) {
                    throw new NotFoundException("No background command " + exec + " in box " + box);
                }
                return DetachedExec.log(dir, exec);
            }
            Path mainLog = dir.resolve("logs").resolve("main.log");
            return !console && Files.isRegularFile(mainLog) ? mainLog : dir.resolve("vm").resolve("console.log");
        }

        private static boolean running(BoxRuntime core, String id) {
            try {
                BoxState s = core.refresh(id).status().state();
                return s == BoxState.RUNNING || s == BoxState.STOPPING;
            } catch (NotFoundException e) {
                return false; // removed
            }
        }

        private static boolean execEnded(Path status) {
            try {
                return !JSON.readTree(Files.readAllBytes(status)).path("state").asText().equals("running");
            } catch (java.io.IOException e) {
                return true; // gone with its box
            }
        }
    }

    /** {@code boxlite stats BOX...}. */
    @Command(name = "stats", mixinStandardHelpOptions = true, description = "Show boxes' resource use (one shot).")
    static final class Stats implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Parameters(arity = "0..*", paramLabel = "BOX")
        List<String> boxes = new ArrayList<>();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Boxlite runtime = open(main)) {
                List<String[]> rows = new ArrayList<>();
                rows.add(new String[] {"BOX ID", "NAME", "CPU %", "MEM", "BOOT"});
                List<Box> targets = new ArrayList<>();
                if (boxes.isEmpty()) {
                    runtime.list(BoxState.RUNNING).forEach(i -> runtime.get(i.id()).ifPresent(targets::add));
                } else {
                    for (String b : boxes) {
                        targets.add(runtime.get(b).orElseThrow(() -> new NotFoundException("No such box: " + b)));
                    }
                }
                for (Box b : targets) {
                    BoxMetrics m = b.metrics();
                    rows.add(new String[] {b.id(), b.name().orElse(""),
                            m.cpuPercent().map(c -> String.format(Locale.ROOT, "%.1f%%", c)).orElse("-"),
                            m.memoryBytes().map(ImageCommands::human).orElse("-"),
                            m.guestBootDurationMs().map(ms -> ms + " ms").orElse("-")});
                }
                printTable(out, rows);
                out.flush();
            }
            return 0;
        }
    }

    /** {@code boxlite cp SRC DEST} with one side {@code BOX:PATH}. */
    @Command(name = "cp", mixinStandardHelpOptions = true,
            description = "Copy files between the host and a box: 'cp FILE BOX:DIR' or 'cp BOX:PATH DIR'.")
    static final class Cp implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Parameters(index = "0", paramLabel = "SRC")
        String src;
        @Parameters(index = "1", paramLabel = "DEST")
        String dest;

        @Override
        public Integer call() {
            try (Boxlite runtime = open(main)) {
                int s = boxSide(src);
                int d = boxSide(dest);
                if ((s < 0) == (d < 0)) {
                    throw new InvalidArgumentException("cp: exactly one of SRC and DEST must be BOX:PATH");
                }
                if (d > 0) {
                    Box box = runtime.get(dest.substring(0, d)).orElseThrow(() -> new NotFoundException("No such box: "
                            + dest.substring(0, dest.indexOf(':'))));
                    box.copyIn(Path.of(src).toAbsolutePath(), dest.substring(d + 1));
                } else {
                    Box box = runtime.get(src.substring(0, s)).orElseThrow(() -> new NotFoundException("No such box: "
                            + src.substring(0, src.indexOf(':'))));
                    box.copyOut(src.substring(s + 1), Path.of(dest).toAbsolutePath());
                }
            }
            return 0;
        }

        private static int boxSide(String arg) {
            int colon = arg.indexOf(':');
            return colon > 0 && !arg.startsWith("/") && !arg.startsWith(".") ? colon : -1;
        }
    }

    /** {@code boxlite info}. */
    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "Show the home, the engine boxes run on and why, and counts.")
    static final class Info implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try (Boxlite runtime = open(main)) {
                BoxRuntime core = runtime.core();
                var boxes = runtime.list();
                out.println("Home:        " + core.home().root());
                out.println("Boxes:       " + boxes.size() + " (" + boxes.stream().filter(BoxInfo::running).count()
                        + " running)");
                out.println("Images:      " + core.images().list().size());
                ProbeReport probe;
                try {
                    var choice = core.engine();
                    out.println("Box engine:  " + choice.engine().name());
                    out.println("             " + choice.reason());
                    probe = choice.probe();
                } catch (EngineUnavailableException e) {
                    // why: info must still explain the host when the configured engine cannot run here
                    out.println("Box engine:  none");
                    out.println("             " + e.getMessage());
                    probe = EngineProbe.forThisHost(core.env()).probe(core.options());
                }
                out.println("Probe:");
                for (String line : probe.render().split("\n")) {
                    out.println("  " + line);
                }
                out.println("Boot timeout: " + BoxHost.BOOT_TIMEOUT.toSeconds() + " s");
                out.flush();
            }
            return 0;
        }
    }

    /** {@code boxlite load [-i] SOURCE}. */
    @Command(name = "load", mixinStandardHelpOptions = true,
            description = "Load images from an OCI image layout directory or a 'docker save' tar archive.")
    static final class Load implements Callable<Integer> {
        @ParentCommand
        Main main;
        @Spec
        CommandSpec spec;
        @Option(names = {"-i", "--input"}, paramLabel = "PATH", description = "The layout directory or tar archive.")
        Path input;
        @Parameters(arity = "0..1", paramLabel = "PATH")
        Path positional;
        @Option(names = "--tag", paramLabel = "NAME", description = "Tag the (single) image with this name.")
        String tag;

        @Override
        public Integer call() {
            Path source = input != null ? input : positional;
            if (source == null) {
                throw new InvalidArgumentException("load needs a PATH (an OCI layout directory or a docker-save tar)");
            }
            if (!Files.exists(source)) {
                throw new NotFoundException("load: " + source + " does not exist");
            }
            Optional<ImageReference> as = Optional.ofNullable(tag).map(ImageReference::parse);
            try (ImageStore store = ImageStore.open(io.boxlite.home.BoxliteHome.resolve(main.options(), main.env).open())) {
                List<ImageRecord> loaded = Files.isDirectory(source)
                        ? store.importer().importLayout(source.toAbsolutePath(), Optional.empty(), as, Platform.host())
                        : store.importer().importDockerArchive(source.toAbsolutePath(), as, Platform.host());
                for (ImageRecord r : loaded) {
                    spec.commandLine().getOut().println("Loaded image: " + r.reference());
                }
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }

    static String since(Instant t) {
        return ImageCommands.ago(t);
    }
}
