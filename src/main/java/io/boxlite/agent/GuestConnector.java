package io.boxlite.agent;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Opens bidirectional byte streams to ports in a guest: the virtio-vsock device implements it
 * for real boxes; {@link #unixSocket(Path)} reaches an agent on a Unix socket (tests, a host-run
 * agent). Each call opens a new, independent stream; closing it ends that stream only.
 *
 * <p>Implementations must let a virtual thread block in {@code read}/{@code write} without
 * pinning its carrier (docs/threading.md): NIO socket channels qualify.
 *
 * {@snippet :
 * GuestConnector connector = GuestConnector.unixSocket(Path.of("/tmp/agent.sock"));
 * try (AgentClient agent = AgentClient.connect(connector, AgentClient.DEFAULT_PORT)) {
 *     System.out.println(agent.stats());
 * }
 * }
 */
@FunctionalInterface
public interface GuestConnector {
    /**
     * Opens a stream to {@code port}.
     *
     * @throws IOException if nothing listens there or the guest is gone
     */
    ByteChannel open(int port) throws IOException;

    /** A connector whose every port is the agent listening on the Unix socket {@code path}. */
    static GuestConnector unixSocket(Path path) {
        Objects.requireNonNull(path, "path");
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(path);
        return port -> {
            SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                channel.connect(address);
                return channel;
            } catch (IOException e) {
                channel.close();
                throw e;
            }
        };
    }
}
