package io.boxlite.cli;

import io.boxlite.engine.EngineProbe;
import io.boxlite.engine.ProbeReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code boxlite info} with {@code BOXLITE_ENGINE=kvm}: the KVM engine where it boots Linux, else "none" and why. */
class InfoEngineTest {
    @TempDir
    Path tmp;

    @Test
    void infoWithKvmForcedShowsTheKvmEngineOrWhyNoEngineCanRunBoxes() {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.put("BOXLITE_HOME", tmp.resolve("home").toString());
        env.put("BOXLITE_ENGINE", "kvm");
        var out = new StringWriter();
        var err = new StringWriter();
        int status = Main.run(new String[] {"info"}, new PrintWriter(out, true), new PrintWriter(err, true), env,
                () -> EngineProbe.forThisHost(env));
        String text = out.toString();

        assertEquals(0, status, text + err);
        ProbeReport probe = EngineProbe.forThisHost(env).probe();
        if (probe.kvm().bootsLinux()) {
            assertTrue(text.contains("Box engine:  kvm"), text);
            assertTrue(text.contains("BOXLITE_ENGINE=kvm overrides the probe"), text);
        } else {
            assertTrue(text.contains("Box engine:  none"), text);
            assertTrue(text.contains("The KVM engine cannot run boxes here: " + probe.kvm().label()
                    + " cannot boot Linux (" + probe.kvmReason() + ")"), "names the probe's reason:\n" + text);
            assertTrue(text.contains("It was forced by BOXLITE_ENGINE=kvm"), text);
            assertTrue(text.contains("Probe:") && text.contains("Engine: kvm"), "the probe is still shown:\n" + text);
        }
    }
}
