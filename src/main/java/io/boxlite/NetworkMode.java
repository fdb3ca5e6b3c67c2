package io.boxlite;

/**
 * A box's network. Boxes have no network device yet, so {@link #NONE} is the default and
 * {@link #ENABLED} is refused with {@link UnsupportedException} until the network back end lands.
 */
public enum NetworkMode {
    /** No network interface in the box (loopback only). */
    NONE,
    /** Outbound network through the host (not available yet). */
    ENABLED
}
