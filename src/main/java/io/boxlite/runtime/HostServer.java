package io.boxlite.runtime;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.StorageException;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.GuestConnector;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Serves {@link HostProtocol} for one box host: every process on the home reaches the box here. */
final class HostServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(HostServer.class.getName());

    interface Handler {
        GuestConnector connector();

        String statusJson();

        void stop(Duration grace);

        DetachedExec execDetached(ExecRequest request);
    }

    private final ServerSocketChannel server;
    private final Path socket;
    private final Handler handler;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private HostServer(ServerSocketChannel server, Path socket, Handler handler) {
        this.server = server;
        this.socket = socket;
        this.handler = handler;
    }

    static HostServer listen(Path socket, Handler handler) {
        try {
            Files.deleteIfExists(socket); // a stale socket of a dead host
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            HostServer s = new HostServer(server, socket, handler);
            Thread.ofVirtual().name("boxlite-host-accept").start(s::acceptLoop);
            return s;
        } catch (IOException e) {
            throw new StorageException("Cannot listen on the box socket " + socket + ": " + e.getMessage(), e);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel c = server.accept();
                clients.add(c);
                Thread.ofVirtual().name("boxlite-host-client").start(() -> serve(c));
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, "Box socket accept failed: " + e.getMessage());
                }
                return;
            }
        }
    }

    private void serve(SocketChannel c) {
        boolean bridged = false;
        try {
            String line = HostProtocol.readLine(c);
            String[] parts = line.split(" ", 2);
            switch (parts[0]) {
                case "CONNECT" -> {
                    int port = Integer.parseInt(parts.length > 1 ? parts[1].strip() : "");
                    ByteChannel guest;
                    try {
                        guest = handler.connector().open(port);
                    } catch (IOException e) {
                        HostProtocol.writeLine(c, "ERR cannot reach guest port " + port + ": " + e.getMessage());
                        return;
                    }
                    HostProtocol.writeLine(c, "OK");
                    bridged = true;
                    bridge(c, guest);
                }
                case "STATUS" -> HostProtocol.writeLine(c, "OK " + handler.statusJson());
                case "STOP" -> {
                    long millis = Long.parseLong(parts.length > 1 ? parts[1].strip() : "10000");
                    try {
                        handler.stop(Duration.ofMillis(Math.max(0, Math.min(millis, 600_000))));
                        HostProtocol.writeLine(c, "OK");
                    } catch (RuntimeException e) {
                        HostProtocol.writeLine(c, "ERR " + e.getMessage());
                    }
                }
                case "EXEC" -> execDetached(c, parts.length > 1 ? parts[1].strip() : "");
                default -> HostProtocol.writeLine(c, "ERR unknown request '" + parts[0] + "'");
            }
        } catch (IOException | NumberFormatException e) {
            LOG.log(System.Logger.Level.DEBUG, "Box socket client: {0}", e.toString());
        } finally {
            if (!bridged) {
                closeQuietly(c);
            }
        }
    }

    private void execDetached(SocketChannel c, String length) throws IOException {
        int n = Integer.parseInt(length);
        if (n < 2 || n > HostProtocol.MAX_EXEC_BYTES) {
            HostProtocol.writeLine(c, "ERR " + ErrorCode.INVALID_ARGUMENT.name() + " an exec request of " + n
                    + " bytes is outside 2.." + HostProtocol.MAX_EXEC_BYTES);
            return;
        }
        byte[] json = HostProtocol.readExactly(c, n);
        try {
            DetachedExec started = handler.execDetached(ExecRequestJson.decode(json));
            HostProtocol.writeLine(c, "OK " + started.execId() + " " + started.pid());
        } catch (BoxliteException e) {
            HostProtocol.writeLine(c, "ERR " + e.code().name() + " " + e.getMessage());
        } catch (RuntimeException e) {
            HostProtocol.writeLine(c, "ERR " + ErrorCode.INTERNAL.name() + " " + e);
        }
    }

    private void bridge(SocketChannel client, ByteChannel guest) {
        Thread.ofVirtual().name("boxlite-host-bridge").start(() -> pump(guest, client, client, guest));
        pump(client, guest, client, guest);
    }

    private void pump(ByteChannel from, ByteChannel to, SocketChannel client, ByteChannel guest) {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try {
            while (from.read(buf) >= 0) {
                buf.flip();
                while (buf.hasRemaining()) {
                    to.write(buf);
                }
                buf.clear();
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.TRACE, "bridge: {0}", e.toString());
        } finally {
            closeQuietly(client);
            closeQuietly(guest);
            clients.remove(client);
        }
    }

    private static void closeQuietly(java.nio.channels.Channel c) {
        try {
            c.close();
        } catch (IOException | RuntimeException ignored) {
            // closing on the way out
        }
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        clients.forEach(HostServer::closeQuietly);
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "Cannot remove " + socket);
        }
    }
}
