package io.boxlite.agent;

import io.boxlite.InvalidArgumentException;

/**
 * A terminal size in character cells.
 *
 * @param rows 1..65535
 * @param cols 1..65535
 */
public record TtySize(int rows, int cols) {
    public TtySize {
        if (rows < 1 || rows > 0xffff || cols < 1 || cols > 0xffff) {
            throw new InvalidArgumentException("Terminal size " + rows + "x" + cols + " is outside 1..65535");
        }
    }
}
