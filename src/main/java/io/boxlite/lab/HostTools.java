package io.boxlite.lab;

import io.boxlite.BoxliteException;
import io.boxlite.ErrorCode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The host programs the lab builder runs: {@code jlink}, {@code ldd}, {@code mke2fs}. */
final class HostTools {
    private static final Pattern LIBRARY = Pattern.compile("(/\\S+)");

    private HostTools() {
    }

    /** Runs {@code command}, returns its output (stdout and stderr); fails with the output on a non-zero exit. */
    static String run(List<String> command, long timeoutSeconds) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new BoxliteException(ErrorCode.ENGINE, String.join(" ", command) + " did not finish in "
                        + timeoutSeconds + " s");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new BoxliteException(ErrorCode.ENGINE, String.join(" ", command) + " failed (exit "
                        + p.exitValue() + "): " + text.strip());
            }
            return text;
        } catch (IOException e) {
            throw new BoxliteException(ErrorCode.ENGINE, "cannot run " + command.getFirst() + ": " + e.getMessage()
                    + " (bin/setup installs what the lab needs)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BoxliteException(ErrorCode.ENGINE, "interrupted while running " + command.getFirst(), e);
        }
    }

    /**
     * The shared libraries (absolute paths, the dynamic loader included) that the dynamically
     * linked {@code files} load, as {@code ldd} resolves them here. Libraries it cannot find
     * (a JDK library another JDK library names) are skipped: they come with the files.
     */
    static Set<Path> sharedLibraries(List<Path> files) {
        Set<Path> libs = new TreeSet<>();
        for (Path f : files) {
            String out;
            try {
                out = run(List.of("ldd", f.toString()), 60);
            } catch (BoxliteException e) {
                if (e.getMessage().contains("not a dynamic executable")) {
                    continue;
                }
                throw e;
            }
            for (String line : out.split("\n")) {
                if (line.contains("not found") || line.contains("linux-vdso")) {
                    continue;
                }
                Matcher m = LIBRARY.matcher(line.contains("=>") ? line.substring(line.indexOf("=>") + 2) : line);
                if (m.find()) {
                    libs.add(Path.of(m.group(1)));
                }
            }
        }
        return libs;
    }
}
