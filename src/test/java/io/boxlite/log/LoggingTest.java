package io.boxlite.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LoggingTest {
    static final Logger LIBRARY = Logger.getLogger("io.boxlite");

    final List<String> warnings = new ArrayList<>();
    final Handler recorder = new Handler() {
        @Override
        public void publish(LogRecord record) {
            if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                warnings.add(new SimpleFormatter().formatMessage(record));
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void recordWarnings() {
        Logging.configure(Map.of());
        LIBRARY.addHandler(recorder);
    }

    @AfterEach
    void restoreDefaults() {
        LIBRARY.removeHandler(recorder);
        Logging.configure(Map.of());
    }

    static Map<String, String> env(String... pairs) {
        var env = new HashMap<String, String>();
        for (int i = 0; i < pairs.length; i += 2) {
            env.put(pairs[i], pairs[i + 1]);
        }
        return env;
    }

    static long handlersOfOurKind() {
        return Arrays.stream(LIBRARY.getHandlers()).filter(ConsoleHandler.class::isInstance)
                .count();
    }

    @Nested
    class ChoosingTheLevel {
        @ParameterizedTest(name = "BOXLITE_LOG=''{0}'' -> {1}")
        @CsvSource(delimiter = '|', value = {
            "error | SEVERE", "warn | WARNING", "info | INFO", "debug | FINE",
            "trace | FINEST", "off | OFF", "DEBUG | FINE", "' Info ' | INFO", "Trace | FINEST"})
        void plainLevelsInAnyCase(String value, String expected) {
            assertEquals(Level.parse(expected), Logging.configure(env("BOXLITE_LOG", value)));
            assertEquals(Level.parse(expected), LIBRARY.getLevel());
            assertEquals(List.of(), warnings);
        }

        @ParameterizedTest(name = "RUST_LOG=''{0}'' -> {1}")
        @CsvSource(delimiter = '|', value = {
            "info,boxlite=debug | FINE",
            "boxlite=trace | FINEST",
            "boxlite=debug,info | FINE",
            "io.boxlite=error,debug | SEVERE",
            "debug,hyper=trace | FINE",
            "hyper=trace | WARNING",
            "info,boxlite | FINEST",
            "hyper,boxlite=info | INFO",
            "'warn,, boxlite = INFO ,' | INFO",
            "boxlite::vmm=debug | WARNING",
            "info | INFO"})
        void rustLogDirectivesWhereOurTargetWinsOverTheDefault(String value, String expected) {
            assertEquals(Level.parse(expected), Logging.configure(env("RUST_LOG", value)));
            assertEquals(List.of(), warnings);
        }

        @Test
        void boxliteLogWinsOverRustLog() {
            assertEquals(Level.SEVERE,
                    Logging.configure(env("BOXLITE_LOG", "error", "RUST_LOG", "debug")));
        }

        @Test
        void aBlankBoxliteLogFallsBackToRustLog() {
            assertEquals(Level.FINE,
                    Logging.configure(env("BOXLITE_LOG", " ", "RUST_LOG", "debug")));
        }

        @Test
        void nothingSetMeansWarn() {
            assertEquals(Level.WARNING, Logging.configure(Map.of()));
            assertEquals(List.of(), warnings);
        }
    }

    @Nested
    class BadValues {
        @ParameterizedTest(name = "{0}=''{1}''")
        @CsvSource(delimiter = '|', value = {
            "BOXLITE_LOG | verbose",
            "BOXLITE_LOG | hyper",
            "BOXLITE_LOG | boxlite=loud",
            "RUST_LOG | boxlite=loud",
            "RUST_LOG | =debug",
            "RUST_LOG | debug,io.boxlite=",
            "RUST_LOG | boxlite=debug=trace"})
        void areReportedAndTheDefaultIsKept(String variable, String value) {
            Logging.configure(env("BOXLITE_LOG", "debug"));

            Level level = Logging.configure(env(variable, value));

            assertEquals(Level.WARNING, level);
            assertEquals(Level.WARNING, LIBRARY.getLevel());
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.getFirst().contains(variable + "=" + value), warnings.getFirst());
        }

        @Test
        void aBareTargetInRustLogIsAnotherTargetNotAMistake() {
            assertEquals(Level.WARNING, Logging.configure(env("RUST_LOG", "hyper")));
            assertEquals(List.of(), warnings);
        }
    }

    @Nested
    class Handlers {
        @Test
        void debugAttachesOneStderrHandlerAndStopsPropagation() {
            Logging.configure(env("BOXLITE_LOG", "debug"));
            Logging.configure(env("BOXLITE_LOG", "debug"));

            assertEquals(1, handlersOfOurKind());
            assertFalse(LIBRARY.getUseParentHandlers());
            assertEquals(Level.FINE, Arrays.stream(LIBRARY.getHandlers())
                    .filter(ConsoleHandler.class::isInstance).findFirst().orElseThrow().getLevel());
        }

        @Test
        void aFinerLevelReusesTheHandler() {
            Logging.configure(env("BOXLITE_LOG", "debug"));
            Logging.configure(env("BOXLITE_LOG", "trace"));

            assertEquals(1, handlersOfOurKind());
            assertEquals(Level.FINEST, Arrays.stream(LIBRARY.getHandlers())
                    .filter(ConsoleHandler.class::isInstance).findFirst().orElseThrow().getLevel());
        }

        @Test
        void aCoarserLevelRemovesItAndRestoresPropagation() {
            Logging.configure(env("BOXLITE_LOG", "trace"));

            Logging.configure(env("BOXLITE_LOG", "info"));

            assertEquals(0, handlersOfOurKind());
            assertTrue(LIBRARY.getUseParentHandlers());
        }

        @Test
        void systemLoggersOfTheLibraryFollowTheLevel() {
            var logger = System.getLogger("io.boxlite.home.Staging");

            Logging.configure(env("BOXLITE_LOG", "debug"));
            assertTrue(logger.isLoggable(System.Logger.Level.DEBUG));
            assertFalse(logger.isLoggable(System.Logger.Level.TRACE));

            Logging.configure(Map.of());
            assertFalse(logger.isLoggable(System.Logger.Level.DEBUG));
            assertTrue(logger.isLoggable(System.Logger.Level.WARNING));
        }

        @Test
        void debugLinesActuallyReachStandardError() {
            var captured = new ByteArrayOutputStream();
            PrintStream original = System.err;
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            try {
                Logging.configure(env("BOXLITE_LOG", "debug"));
                System.getLogger("io.boxlite.test").log(System.Logger.Level.DEBUG,
                        "debug line for the test");
                System.getLogger("io.boxlite.test").log(System.Logger.Level.TRACE,
                        "trace line for the test");
                Arrays.stream(LIBRARY.getHandlers()).forEach(Handler::flush);
            } finally {
                System.setErr(original);
            }

            String text = captured.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains("debug line for the test"), text);
            assertFalse(text.contains("trace line for the test"), text);
        }
    }
}
