package io.boxlite.runtime;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.NotFoundException;
import io.boxlite.agent.ExecRequest;
import io.boxlite.agent.GuestConnector;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;

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

    /**
     * Starts {@code request} in the background, owned by the host.
     *
     * @throws NotFoundException if the command, its directory or its user is missing in the box
     * @throws BoxliteException with the host's error code if it cannot start
     */
    DetachedExec execDetached(ExecRequest request, Path boxDir) {
        byte[] json = ExecRequestJson.encode(request);
        String answer;
        try (SocketChannel c = open()) {
            HostProtocol.writeLine(c, "EXEC " + json.length);
            ByteBuffer b = ByteBuffer.wrap(json);
            while (b.hasRemaining()) {
                c.write(b);
            }
            answer = HostProtocol.readLine(c);
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.RPC_TRANSPORT, "Cannot reach the box host at " + socket + ": "
                    + e.getMessage(), e);
        }
        String[] parts = answer.split(" ", 3);
        if (parts[0].equals("OK") && parts.length == 3 && Ulid.isUlid(parts[1]) && parts[2].matches("[0-9]{1,10}")) {
            return new DetachedExec(parts[1], Long.parseLong(parts[2]), DetachedExec.log(boxDir, parts[1]),
                    DetachedExec.status(boxDir, parts[1]));
        }
        Optional<ErrorCode> code = parts[0].equals("ERR") && parts.length == 3
                ? Arrays.stream(ErrorCode.values()).filter(v -> v.name().equals(parts[1])).findFirst()
                : Optional.empty();
        if (code.isPresent()) {
            throw code.get() == ErrorCode.NOT_FOUND ? new NotFoundException(parts[2])
                    : new BoxliteException(code.get(), parts[2]);
        }
        // why: a host started by an older BoxLite knows no EXEC and answers "ERR unknown request"
        throw new BoxliteException(ErrorCode.RPC, "The box host cannot start background commands (it answered '"
                + answer + "'): restart the box with this BoxLite version");
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
