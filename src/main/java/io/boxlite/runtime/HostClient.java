package io.boxlite.runtime;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.agent.GuestConnector;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/** Talks {@link HostProtocol} to a box host in any process. */
final class HostClient {
    private final Path socket;

    HostClient(Path socket) {
        this.socket = socket;
    }

    /** Streams to guest ports, through the host. */
    GuestConnector connector() {
        return port -> {
            SocketChannel c = open();
            try {
                HostProtocol.writeLine(c, "CONNECT " + port);
                String answer = HostProtocol.readLine(c);
                if (!answer.equals("OK")) {
                    throw new IOException("the box host refused: " + answer);
                }
                return c;
            } catch (IOException e) {
                c.close();
                throw e;
            }
        };
    }

    String status() throws IOException {
        try (SocketChannel c = open()) {
            HostProtocol.writeLine(c, "STATUS");
            String answer = HostProtocol.readLine(c);
            if (!answer.startsWith("OK ")) {
                throw new IOException("the box host answered " + answer);
            }
            return answer.substring(3);
        }
    }

    void stop(Duration grace) {
        try (SocketChannel c = open()) {
            HostProtocol.writeLine(c, "STOP " + grace.toMillis());
            String answer = HostProtocol.readLine(c);
            if (!answer.equals("OK")) {
                throw new BoxliteException(ErrorCode.ENGINE, "The box host could not stop the box: "
                        + answer.replaceFirst("^ERR ", ""));
            }
        } catch (java.io.EOFException e) {
            // why: the host exits right after stopping; a closed connection means it is gone
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "Cannot reach the box host at " + socket + ": "
                    + e.getMessage(), e);
        }
    }

    private SocketChannel open() throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            c.connect(UnixDomainSocketAddress.of(socket));
            return c;
        } catch (IOException e) {
            c.close();
            throw e;
        }
    }
}
