package io.boxlite;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each catchable subclass is a {@link BoxliteException} carrying its own {@link ErrorCode}. */
class TypedExceptionTest {

    record Kind(ErrorCode code, Function<String, BoxliteException> plain,
                BiFunction<String, Throwable, BoxliteException> chained) {
    }

    static Stream<Arguments> kinds() {
        return Stream.of(
                new Kind(ErrorCode.NOT_FOUND, NotFoundException::new, NotFoundException::new),
                new Kind(ErrorCode.ALREADY_EXISTS, AlreadyExistsException::new,
                        AlreadyExistsException::new),
                new Kind(ErrorCode.INVALID_ARGUMENT, InvalidArgumentException::new,
                        InvalidArgumentException::new),
                new Kind(ErrorCode.INVALID_STATE, InvalidStateException::new,
                        InvalidStateException::new),
                new Kind(ErrorCode.ENGINE, EngineUnavailableException::new,
                        EngineUnavailableException::new),
                new Kind(ErrorCode.STORAGE, StorageException::new, StorageException::new),
                new Kind(ErrorCode.UNSUPPORTED, UnsupportedException::new,
                        UnsupportedException::new))
                .map(kind -> Arguments.of(kind.code(), kind));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    void carriesItsCodeAndMessageWithoutCause(ErrorCode expected, Kind kind) {
        BoxliteException e = kind.plain().apply("Box 'web' not found");

        assertEquals(expected, e.code());
        assertEquals("Box 'web' not found", e.getMessage());
        assertNull(e.getCause());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    void chainsTheCauseInsteadOfRepeatingIt(ErrorCode expected, Kind kind) {
        var cause = new IOException("disk full");

        BoxliteException e = kind.chained().apply("Could not write config.json", cause);

        assertEquals(expected, e.code());
        assertEquals("Could not write config.json", e.getMessage());
        assertSame(cause, e.getCause());
        assertInstanceOf(RuntimeException.class, e);
    }
}
