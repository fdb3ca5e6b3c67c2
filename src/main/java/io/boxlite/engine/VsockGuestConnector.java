package io.boxlite.engine;

import io.boxlite.agent.GuestConnector;
import io.boxlite.vmm.devices.virtio.vsock.VsockConnection;
import io.boxlite.vmm.devices.virtio.vsock.VsockHost;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;

/**
 * The agent's transport on a real box: each {@link #open} is a host-initiated virtio-vsock
 * stream to the guest. The adapter lives here because neither the agent client nor the vsock
 * device may know about the other.
 */
public final class VsockGuestConnector implements GuestConnector {
    private final VsockHost host;

    public VsockGuestConnector(VsockHost host) {
        this.host = host;
    }

    @Override
    public ByteChannel open(int port) throws IOException {
        return new Channel(host.connect(port));
    }

    /** A blocking channel over a vsock connection's streams; cheap on virtual threads. */
    private static final class Channel implements ByteChannel {
        private final VsockConnection connection;
        private final InputStream in;
        private final OutputStream out;
        private volatile boolean open = true;

        Channel(VsockConnection connection) {
            this.connection = connection;
            this.in = connection.inputStream();
            this.out = connection.outputStream();
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            ensureOpen();
            if (!dst.hasRemaining()) {
                return 0;
            }
            if (dst.hasArray()) {
                int n = in.read(dst.array(), dst.arrayOffset() + dst.position(), dst.remaining());
                if (n > 0) {
                    dst.position(dst.position() + n);
                }
                return n;
            }
            byte[] buf = new byte[Math.min(dst.remaining(), 64 * 1024)];
            int n = in.read(buf);
            if (n > 0) {
                dst.put(buf, 0, n);
            }
            return n;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            ensureOpen();
            int n = src.remaining();
            if (src.hasArray()) {
                out.write(src.array(), src.arrayOffset() + src.position(), n);
                src.position(src.limit());
            } else {
                byte[] buf = new byte[n];
                src.get(buf);
                out.write(buf);
            }
            out.flush();
            return n;
        }

        private void ensureOpen() throws ClosedChannelException {
            if (!open) {
                throw new ClosedChannelException();
            }
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
            connection.close();
        }
    }
}
