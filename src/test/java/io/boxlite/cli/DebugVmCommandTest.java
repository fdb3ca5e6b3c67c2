package io.boxlite.cli;

import io.boxlite.kvm.EnabledIfKvmAvailable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class DebugVmCommandTest {
    @TempDir
    Path tmp;

    private record Run(int status, String out, String err) {
    }

    private static Run run(String... args) {
        var out = new StringWriter();
        var err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true), Map.of(),
                () -> { throw new AssertionError("no probe needed"); });
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void anUnknownGuestNameListsTheGuests() {
        Run r = run("debug", "guest", "nosuch");
        assertEquals(Main.EXIT_RUNTIME_ERROR, r.status());
        assertTrue(r.err().contains("no test guest named 'nosuch'; there are: boot-check, mmio, smp"), r.err());
    }

    @Test
    void bootingSomethingThatIsNotAKernelSaysSo() throws Exception {
        Path junk = tmp.resolve("junk");
        Files.write(junk, new byte[4096]);
        Run r = run("debug", "boot", junk.toString(), junk.toString());
        assertEquals(Main.EXIT_RUNTIME_ERROR, r.status());
        assertTrue(r.err().contains("is not a bzImage"), r.err());
        Run missing = run("debug", "boot", tmp.resolve("absent").toString(), junk.toString());
        assertTrue(missing.err().contains("does not exist"), missing.err());
    }

    @Test
    @EnabledIfKvmAvailable
    void debugGuestRunsTheGuestAndReportsTimingsAndExits() {
        Run r = run("debug", "guest", "mmio");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("boxlite-testguest mmio"), r.out());
        assertTrue(r.out().contains("VM setup (create → vCPUs ready)"), r.out());
        assertTrue(r.out().contains("first guest exit (boot vCPU)"), r.out());
        assertTrue(r.out().contains("exit: the guest wrote status 0 to the done port"), r.out());
    }

    @Test
    @EnabledIfKvmAvailable
    void debugGuestSpinIsStoppedByTheHost() {
        Run r = run("debug", "guest", "spin", "--timeout", "0.3");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("exit: stopped by the host"), r.out());
    }

}
