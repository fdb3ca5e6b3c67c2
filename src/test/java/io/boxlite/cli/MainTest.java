package io.boxlite.cli;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;
import io.boxlite.engine.EngineProbe;
import io.boxlite.engine.HostFacts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    @TempDir
    Path tmp;

    private record Run(int status, String out, String err) {
    }

    private static final Supplier<EngineProbe> PVM_PROBE = () -> new EngineProbe(
            () -> new HostFacts(true, true, true, Optional.empty(), Optional.of(Path.of("/usr/bin/qemu-system-x86_64")),
                    Optional.of("QEMU emulator version 7.2.19")),
            Optional::empty, Map.of());

    private Run run(Map<String, String> env, Supplier<EngineProbe> probes, String... args) {
        var out = new StringWriter();
        var err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true), env, probes);
        return new Run(status, out.toString(), err.toString());
    }

    private Run run(Map<String, String> env, String... args) {
        return run(env, PVM_PROBE, args);
    }

    /** An environment whose kernels root is empty, so no real kernel is found. */
    private Map<String, String> noKernel() {
        return Map.of("BOXLITE_KERNELS", tmp.resolve("no-kernels").toString());
    }

    @Test
    void noArgumentsShowsUsage() {
        Run r = run(Map.of());
        assertEquals(0, r.status());
        assertTrue(r.out().contains("Usage: boxlite"), r.out());
        assertTrue(r.out().contains("debug"), r.out());
    }

    @Test
    void versionNamesJava() {
        Run r = run(Map.of(), "--version");
        assertEquals(0, r.status());
        assertTrue(r.out().startsWith("boxlite "), r.out());
        assertTrue(r.out().contains("Java " + Runtime.version().feature()), r.out());
    }

    @Test
    void unknownOptionIs125() {
        Run r = run(Map.of(), "debug", "--bogus");
        assertEquals(125, r.status());
        assertTrue(r.err().startsWith("boxlite: Unknown option: '--bogus'"), r.err());
        assertTrue(r.err().contains("See 'boxlite debug --help'."), r.err());
    }

    @Test
    void unknownSubcommandIs125() {
        Run r = run(Map.of(), "frobnicate");
        assertEquals(125, r.status());
        assertTrue(r.err().startsWith("boxlite: "), r.err());
    }

    @Test
    void debugProbePrintsTheReport() {
        Run r = run(Map.of(), "debug", "probe");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("KVM:    KVM-PVM (cannot boot Linux)"), r.out());
        assertTrue(r.out().contains("Engine: qemu"), r.out());
        assertEquals("", r.err());
    }

    @Test
    void probeFailureIsOneLineAnd125() {
        Run r = run(Map.of(), () -> {
            throw new BoxliteException(ErrorCode.ENGINE, "Neither engine can run a guest here: because");
        }, "debug", "probe");
        assertEquals(125, r.status());
        assertEquals("boxlite: Neither engine can run a guest here: because" + System.lineSeparator(), r.err());
    }

    @Test
    void debugKernelPrintsTheLocatedKernel() throws IOException {
        Path dir = tmp.resolve("k");
        Files.createDirectories(dir.resolve("boot"));
        Files.createDirectories(dir.resolve("lib/modules/6.1.0-1-cloud-amd64"));
        Files.writeString(dir.resolve("boot/vmlinuz-6.1.0-1-cloud-amd64"), "x");
        Files.writeString(dir.resolve("kernel.json"), """
                {"version": "6.1.0-1-cloud-amd64", "packageVersion": "6.1.1-1",
                 "vmlinuz": "boot/vmlinuz-6.1.0-1-cloud-amd64"}
                """);

        Run r = run(Map.of("BOXLITE_KERNEL_DIR", dir.toString()), "debug", "kernel");

        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("Version:  6.1.0-1-cloud-amd64"), r.out());
        assertTrue(r.out().contains("6.1.1-1"), r.out());
    }

    @Test
    void missingKernelIsOneLineWithoutStackTrace() {
        Run r = run(noKernel(), "debug", "kernel");
        assertEquals(125, r.status());
        assertTrue(r.err().startsWith("boxlite: Guest kernel directory "), r.err());
        assertTrue(r.err().strip().endsWith("run bin/fetch-kernel (or bin/setup)"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void debugFlagAddsTheStackTraceWhereverItStands() {
        for (String[] args : new String[][] {{"--debug", "debug", "kernel"}, {"debug", "kernel", "--debug"}}) {
            Run r = run(noKernel(), args);
            assertEquals(125, r.status());
            assertTrue(r.err().contains("at io.boxlite.kernel.GuestKernel"), String.join(" ", args) + ": " + r.err());
        }
    }

    @Test
    void boxliteLogDebugAddsTheStackTrace() {
        var env = new HashMap<>(noKernel());
        env.put("BOXLITE_LOG", "debug");
        Run r = run(env, "debug", "kernel");
        assertEquals(125, r.status());
        assertTrue(r.err().contains("at io.boxlite.kernel.GuestKernel"), r.err());
    }

    @Test
    void internalErrorsAre125AndSaySo() {
        Run r = run(Map.of(), () -> {
            throw new IllegalStateException("boom");
        }, "debug", "probe");
        assertEquals(125, r.status());
        assertTrue(r.err().startsWith("boxlite: internal error: java.lang.IllegalStateException: boom"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }
}
