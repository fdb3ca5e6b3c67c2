package io.boxlite.log;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Log level set-up from the environment. The library itself logs only through
 * {@link System.Logger}, with logger names under {@code io.boxlite}; with the JDK's default
 * logger finder those loggers are {@code java.util.logging} loggers, which this class configures.
 * Applications that route {@code System.Logger} elsewhere (e.g. to SLF4J) configure levels there
 * and need not call it.
 *
 * <p>The level comes from {@code BOXLITE_LOG}, else from {@code RUST_LOG} (which BoxLite's Rust
 * runtime reads, so one setting serves both). Either holds a level, {@code error}, {@code warn},
 * {@code info}, {@code debug}, {@code trace} or {@code off} (any case), or {@code RUST_LOG}'s
 * directive list, e.g. {@code info,boxlite=debug}: a directive for the target {@code boxlite} or
 * {@code io.boxlite} (a bare target means {@code trace}) wins over the bare default, and
 * directives for other targets are ignored. A bare word that is neither a level nor
 * {@code boxlite} is another target in {@code RUST_LOG}, as in Rust, but a mistake in
 * {@code BOXLITE_LOG}, which has no other targets. Unset, or with no directive that applies, the
 * level is {@code warn}.
 *
 * {@snippet :
 * Logging.configure();          // e.g. BOXLITE_LOG=debug
 * }
 */
public final class Logging {
    /** The variable read first. */
    public static final String LOG_VARIABLE = "BOXLITE_LOG";
    /** The variable read when {@code BOXLITE_LOG} is unset or blank. */
    public static final String RUST_LOG_VARIABLE = "RUST_LOG";
    /** The parent of every logger of the library. */
    public static final String LOGGER_NAME = "io.boxlite";
    /** The level used when nothing (usable) is set. */
    public static final Level DEFAULT_LEVEL = Level.WARNING;

    // why: java.util.logging keeps loggers only weakly, and a collected logger loses its level
    private static final Logger LIBRARY_LOGGER = Logger.getLogger(LOGGER_NAME);
    private static final System.Logger LOG = System.getLogger(Logging.class.getName());

    private static Handler stderrHandler; // guarded by Logging.class

    private Logging() {
    }

    /** Configures logging from the process environment; see {@link #configure(Map)}. */
    public static Level configure() {
        return configure(System.getenv());
    }

    /**
     * Sets the level of the {@code io.boxlite} logger from {@code env}. When the level is finer
     * than {@code INFO}, one handler that writes to standard error at that level is attached to
     * {@code io.boxlite} and propagation to the parent handlers is stopped, because the root
     * logger's console handler drops everything below {@code INFO}; a coarser level removes that
     * handler again and restores propagation. Repeated calls never add a second handler.
     *
     * <p>Never throws for a bad value: an unparseable one is reported as a warning and the
     * default level ({@code warn}) is used.
     *
     * @return the level now in force
     */
    public static synchronized Level configure(Map<String, String> env) {
        Objects.requireNonNull(env, "env");
        String variable = LOG_VARIABLE;
        String value = env.get(LOG_VARIABLE);
        if (value == null || value.isBlank()) {
            variable = RUST_LOG_VARIABLE;
            value = env.get(RUST_LOG_VARIABLE);
        }
        Level level = DEFAULT_LEVEL;
        String problem = null;
        if (value != null && !value.isBlank()) {
            try {
                level = parse(value, variable.equals(LOG_VARIABLE)).orElse(DEFAULT_LEVEL);
            } catch (IllegalArgumentException e) {
                problem = e.getMessage();
            }
        }
        apply(level);
        if (problem != null) {
            LOG.log(System.Logger.Level.WARNING, "Ignoring {0}={1}: {2}; use error, warn, info, "
                    + "debug, trace or off, or directives such as info,boxlite=debug. Logging "
                    + "at warn", variable, value, problem);
        }
        return level;
    }

    /**
     * Parses a level or directive list as the class documentation describes.
     *
     * @param strict whether a bare word that is no level and not our target is an error (as in
     *               {@code BOXLITE_LOG}) rather than another target (as in {@code RUST_LOG})
     * @return the level for the library, or empty if no directive applies to it
     * @throws IllegalArgumentException if a directive is malformed or names an unknown level
     */
    static Optional<Level> parse(String value, boolean strict) {
        Level fallback = null;
        Level ours = null;
        for (String raw : value.split(",", -1)) {
            String directive = raw.strip();
            if (directive.isEmpty()) {
                continue;
            }
            int equals = directive.indexOf('=');
            if (equals < 0) {
                Optional<Level> level = level(directive);
                if (level.isPresent()) {
                    fallback = level.get();
                } else if (isOurTarget(directive)) {
                    ours = Level.FINEST;
                } else if (strict) {
                    throw new IllegalArgumentException("unknown level '" + directive + "'");
                }
            } else {
                String target = directive.substring(0, equals).strip();
                String levelName = directive.substring(equals + 1).strip();
                if (target.isEmpty()) {
                    throw new IllegalArgumentException("directive '" + directive
                            + "' has no target");
                }
                if (isOurTarget(target)) {
                    ours = level(levelName).orElseThrow(() -> new IllegalArgumentException(
                            "unknown level '" + levelName + "' for " + target));
                }
            }
        }
        return Optional.ofNullable(ours != null ? ours : fallback);
    }

    private static boolean isOurTarget(String target) {
        return target.equals("boxlite") || target.equals(LOGGER_NAME);
    }

    private static Optional<Level> level(String name) {
        return Optional.ofNullable(switch (name.toLowerCase(Locale.ROOT)) {
            case "off" -> Level.OFF;
            case "error" -> Level.SEVERE;
            case "warn" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            default -> null;
        });
    }

    private static void apply(Level level) {
        LIBRARY_LOGGER.setLevel(level);
        if (level.intValue() < Level.INFO.intValue()) {
            if (stderrHandler == null) {
                stderrHandler = new ConsoleHandler();
                stderrHandler.setFormatter(new SimpleFormatter());
                LIBRARY_LOGGER.addHandler(stderrHandler);
            }
            stderrHandler.setLevel(level);
            // why: the root handler would print INFO and above a second time
            LIBRARY_LOGGER.setUseParentHandlers(false);
        } else {
            if (stderrHandler != null) {
                LIBRARY_LOGGER.removeHandler(stderrHandler);
                stderrHandler.flush();
                stderrHandler = null;
            }
            LIBRARY_LOGGER.setUseParentHandlers(true);
        }
    }
}
