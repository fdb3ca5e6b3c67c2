package io.boxlite.agent.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Property tests of the host decoder with a seeded Random (jqwik's engine does not fit the
 * JUnit 6 platform used here): for any input, decoding yields valid messages or an
 * {@link AgentProtocolException} / {@link EOFException}, never another exception.
 */
class FrameDecoderFuzzTest {
    private static final long SEED = 0x5eed_b0c5L;

    /** Reads every frame and decodes each with the decoder for its type. Returns frames decoded. */
    static int decodeAll(byte[] input) throws Exception {
        FrameReader reader = new FrameReader(Channels.newChannel(new ByteArrayInputStream(input)));
        int n = 0;
        Frame f;
        while ((f = reader.read()) != null) {
            switch (f.type()) {
                case HELLO -> Messages.hello(f);
                case ERROR -> Messages.error(f);
                case STARTED -> Messages.started(f);
                case WINDOW -> Messages.window(f);
                case EOF -> Messages.eof(f);
                case EXIT -> Messages.exit(f);
                case STATS -> Messages.stats(f);
                case COPY_DONE -> Messages.copyDone(f);
                case SHUTDOWN_ACK -> Messages.shutdownAck(f);
                default -> {
                    // DATA, PONG and host-to-agent types carry opaque payloads
                }
            }
            n++;
        }
        return n;
    }

    /** Outcome counts, so that the test can fail if the inputs never reach one of the paths. */
    static int[] check(List<byte[]> inputs) {
        int[] outcomes = new int[2]; // accepted, rejected
        for (byte[] input : inputs) {
            try {
                decodeAll(input);
                outcomes[0]++;
            } catch (AgentProtocolException | EOFException expected) {
                outcomes[1]++;
            } catch (Throwable t) {
                fail("Decoding " + HexFormat.of().formatHex(input) + " threw " + t, t);
            }
        }
        return outcomes;
    }

    static byte[] frame(FrameType type, int stream, byte[] payload) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new FrameWriter(Channels.newChannel(out)).write(new Frame(type, stream, payload));
        return out.toByteArray();
    }

    static List<byte[]> validAgentFrames() throws Exception {
        List<byte[]> corpus = new ArrayList<>();
        corpus.add(frame(FrameType.HELLO, 0, new PayloadWriter().u16(1).u16(0).u32(31).u32(1 << 20).u32(262144)
                .string("boxlite-agent 0.1.0").toByteArray()));
        corpus.add(frame(FrameType.ERROR, 0, new PayloadWriter().u32(4).u32(2).string("not found").toByteArray()));
        corpus.add(frame(FrameType.STARTED, 0, Messages.u32(1234)));
        corpus.add(frame(FrameType.DATA, StreamId.STDOUT, "hello".getBytes()));
        corpus.add(frame(FrameType.EOF, StreamId.STDERR, new byte[0]));
        corpus.add(frame(FrameType.WINDOW, StreamId.STDIN, Messages.u32(65536)));
        corpus.add(frame(FrameType.EXIT, 0, new PayloadWriter().u8(1).u8(1).u16(0).u32(9).u64(5000).toByteArray()));
        corpus.add(frame(FrameType.STATS, 0, new PayloadWriter().u64(1000).u32(10).u32(20).u32(30).u64(1 << 30)
                .u64(1 << 20).u64(1 << 21).u32(12).u32(2).toByteArray()));
        corpus.add(frame(FrameType.COPY_DONE, 0, new PayloadWriter().u64(3).u64(100).toByteArray()));
        corpus.add(frame(FrameType.SHUTDOWN_ACK, 0, new byte[0]));
        corpus.add(frame(FrameType.PONG, 0, "x".getBytes()));
        return corpus;
    }

    @Test
    void validFramesDecode() throws Exception {
        List<byte[]> corpus = validAgentFrames();
        for (byte[] f : corpus) {
            assertEquals(1, decodeAll(f));
        }
        byte[] all = corpus.stream().reduce(new byte[0], (a, b) -> {
            byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, c, a.length, b.length);
            return c;
        });
        assertEquals(corpus.size(), decodeAll(all));
    }

    @Test
    void randomBytesDecodeOrFailAsProtocolErrors() {
        Random random = new Random(SEED);
        List<byte[]> inputs = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            byte[] b = new byte[random.nextInt(96)];
            random.nextBytes(b);
            if (b.length >= 8 && random.nextBoolean()) {
                // a small length and a known type, so that payload decoders are reached too
                b[0] = 0;
                b[1] = 0;
                b[2] = 0;
                b[3] = (byte) random.nextInt(b.length - 7);
                FrameType[] types = FrameType.values();
                b[4] = (byte) types[random.nextInt(types.length)].code();
                b[5] = (byte) random.nextInt(4);
                b[6] = 0;
                b[7] = 0;
            }
            inputs.add(b);
        }
        int[] outcomes = check(inputs);
        assertTrue(outcomes[0] > 100 && outcomes[1] > 100, "both paths exercised: " + outcomes[0] + "/" + outcomes[1]);
    }

    @Test
    void mutatedValidFramesDecodeOrFailAsProtocolErrors() throws Exception {
        Random random = new Random(SEED + 1);
        List<byte[]> corpus = validAgentFrames();
        List<byte[]> inputs = new ArrayList<>();
        for (int i = 0; i < 30_000; i++) {
            byte[] b = corpus.get(random.nextInt(corpus.size())).clone();
            int mutations = 1 + random.nextInt(3);
            for (int m = 0; m < mutations; m++) {
                switch (random.nextInt(5)) {
                    case 0 -> b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
                    case 1 -> b[random.nextInt(b.length)] = (byte) (random.nextBoolean() ? 0 : 0xff);
                    case 2 -> b = java.util.Arrays.copyOf(b, random.nextInt(b.length + 1));
                    case 3 -> {
                        byte[] grown = java.util.Arrays.copyOf(b, b.length + 1 + random.nextInt(16));
                        for (int k = b.length; k < grown.length; k++) {
                            grown[k] = (byte) random.nextInt(256);
                        }
                        b = grown;
                    }
                    default -> {
                        if (b.length >= 4) { // rewrite the length field
                            int len = random.nextBoolean() ? random.nextInt(64) : random.nextInt();
                            b[0] = (byte) (len >>> 24);
                            b[1] = (byte) (len >>> 16);
                            b[2] = (byte) (len >>> 8);
                            b[3] = (byte) len;
                        }
                    }
                }
                if (b.length == 0) {
                    break;
                }
            }
            inputs.add(b);
        }
        int[] outcomes = check(inputs);
        assertTrue(outcomes[0] > 1000 && outcomes[1] > 1000, "both paths exercised: " + outcomes[0] + "/" + outcomes[1]);
    }

    @Test
    void headerLimitsAreCheckedBeforeAnythingIsAllocated() {
        AgentProtocolException huge = assertThrows(AgentProtocolException.class,
                () -> decodeAll(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x12, 2, 0, 0}));
        assertTrue(huge.getMessage().contains("exceeds"), huge.getMessage());
        assertThrows(AgentProtocolException.class, () -> decodeAll(new byte[] {0, 0, 0, 0, 0x12, 2, 0, 1}));
        assertThrows(AgentProtocolException.class, () -> decodeAll(new byte[] {0, 0, 0, 0, 0x7e, 0, 0, 0}));
        assertThrows(AgentProtocolException.class, () -> decodeAll(new byte[] {0, 0, 0, 0, 0x12, 4, 0, 0}));
        assertThrows(AgentProtocolException.class, () -> decodeAll(new byte[] {0, 0, 0, 0, 0x11, 2, 0, 0}));
        assertThrows(EOFException.class, () -> decodeAll(new byte[] {0, 0, 0, 5, 0x12, 2, 0, 0, 1}));
    }

    @Test
    void encodedRequestsRoundTrip() throws Exception {
        byte[] exec = Messages.exec(1, 24, 80, 1500, "nobody", "/tmp", List.of("sh", "-c", "ünïcode"),
                List.of("A=1"));
        Frame back = new FrameReader(Channels.newChannel(new ByteArrayInputStream(frame(FrameType.EXEC, 0, exec))))
                .read();
        assertEquals(FrameType.EXEC, back.type());
        assertArrayEquals(exec, back.payload());
        PayloadReader r = new PayloadReader(back);
        assertEquals(1, r.u32());
        assertEquals(24, r.u16());
        assertEquals(80, r.u16());
        assertEquals(1500, r.u32());
        assertEquals("nobody", r.string(100, "user"));
        assertEquals("/tmp", r.string(100, "cwd"));
        assertEquals(3, r.u32());
        assertEquals("sh", r.string(100, "a"));
        assertEquals("-c", r.string(100, "a"));
        assertEquals("ünïcode", r.string(100, "a"));
        assertEquals(1, r.u32());
        assertEquals("A=1", r.string(100, "e"));
        r.end();
    }
}
