package io.boxlite.agent.protocol;

/** Stream ids in the frame header: which byte stream a DATA, EOF or WINDOW frame is about. */
public final class StreamId {
    public static final int NONE = 0;
    public static final int STDIN = 1;
    public static final int STDOUT = 2;
    public static final int STDERR = 3;

    private StreamId() {
    }

    static String name(int id) {
        return switch (id) {
            case NONE -> "none";
            case STDIN -> "stdin";
            case STDOUT -> "stdout";
            case STDERR -> "stderr";
            default -> "stream " + id;
        };
    }
}
