package io.boxlite.agent.protocol;

/** The limits of guest protocol 1; both sides enforce them ({@code docs/guest-protocol.md}). */
public final class Limits {
    /** Frame header: u32 length, u8 type, u8 stream, u16 reserved (zero). */
    public static final int HEADER_BYTES = 8;
    /** The largest payload of any frame. */
    public static final int MAX_PAYLOAD = 1 << 20;
    /** The largest DATA payload either side sends. */
    public static final int DATA_CHUNK = 32 * 1024;
    /** A stream's window may never grow beyond this. */
    public static final long MAX_WINDOW = 1L << 30;
    /** The smallest and largest initial window an agent may announce in HELLO. */
    public static final int MIN_INITIAL_WINDOW = 4 * 1024;
    public static final int MAX_INITIAL_WINDOW = 16 << 20;
    public static final int MAX_ARGS = 4096;
    public static final int MAX_ENVS = 4096;
    /** The sum of the UTF-8 lengths (plus one each) of argv and env entries. */
    public static final int MAX_ARGV_ENV_BYTES = 256 * 1024;
    /** User, working directory and copy paths. */
    public static final int MAX_STRING = 4096;
    public static final int MAX_PING = 64;
    /** ERROR and HELLO texts the host accepts. */
    public static final int MAX_MESSAGE = 4096;

    private Limits() {
    }
}
