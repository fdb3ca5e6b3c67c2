package io.boxlite;

/**
 * A guest port published on the host. Publishing needs the network back end, which is not built
 * yet: a box with ports is refused at create with {@link UnsupportedException}.
 *
 * @param hostPort  host port, 0 for any free one
 * @param guestPort port in the box
 * @param protocol  {@code tcp} or {@code udp}
 */
public record PortSpec(int hostPort, int guestPort, String protocol) {
    public PortSpec {
        protocol = protocol == null ? "tcp" : protocol;
    }
}
