package io.boxlite.home;

import java.io.IOException;

/**
 * A consumer that may fail with an {@link IOException}, such as the writer that fills a staged
 * file in {@link Staging#writeAtomically(java.nio.file.Path, IOConsumer)}.
 *
 * @param <T> the type of the argument
 */
@FunctionalInterface
public interface IOConsumer<T> {
    void accept(T value) throws IOException;
}
