package dev.meseta.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.mesos.MesosNativeLibrary;
import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.junit.jupiter.api.Test;

/**
 * Which API classes and which native library this run uses. Maven runs the
 * suite once per jar; this guards that each run really is on the jar it
 * claims (meseta.expected.api), so a misconfigured build cannot pass twice
 * on the same classes.
 */
class LibrarySetupTest {
    private static String origin(Class<?> type) {
        return type.getProtectionDomain().getCodeSource().getLocation().getPath();
    }

    @Test
    void theRunUsesTheJarItClaimsAndMesetasLibrary() {
        String expected = System.getProperty("meseta.expected.api", "meseta");
        String api = origin(MesosSchedulerDriver.class);
        String protos = origin(Protos.class);
        if (expected.equals("official")) {
            assertTrue(api.endsWith("mesos-1.11.0.jar"), "API classes from " + api);
            assertTrue(protos.endsWith("mesos-1.11.0.jar"), "Protos from " + protos);
            assertNotNull(System.getenv("MESOS_NATIVE_JAVA_LIBRARY"));
        } else {
            assertTrue(api.endsWith("/classes/"), "API classes from " + api);
            assertTrue(protos.endsWith("/classes/"), "Protos from " + protos);
            // Our jar carries the library: nothing points at it from outside.
            assertNull(System.getenv("MESOS_NATIVE_JAVA_LIBRARY"));
            assertNull(System.getenv("MESOS_NATIVE_LIBRARY"));
        }
        MesosNativeLibrary.load();
        String mapped = loadedLibmesos();
        if (expected.equals("official")) {
            // The variable may name it through `..` or a link; the map
            // shows where it really is.
            assertEquals(realPath(System.getenv("MESOS_NATIVE_JAVA_LIBRARY")), realPath(mapped));
        } else {
            assertTrue(mapped.contains("meseta-libmesos-"), "extracted from the jar, but loaded " + mapped);
            // The extracted copy is removed once mapped.
            assertTrue(mapped.endsWith(" (deleted)"), mapped);
            // (The official jar's version() never sees its library as loaded; ours does.)
            MesosNativeLibrary.Version version = MesosNativeLibrary.version();
            assertEquals(new MesosNativeLibrary.Version(1, 11, 0), version, "version " + version);
        }
    }

    /** The canonical form of an existing file's path. */
    private static String realPath(String path) {
        try {
            return Path.of(path).toRealPath().toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The file the process mapped the native library from (Linux). */
    private static String loadedLibmesos() {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                    .map(line -> line.trim().split("\\s+", 6))
                    .filter(columns -> columns.length == 6)
                    .map(columns -> columns[5])
                    .filter(file -> file.contains("libmesos"))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no libmesos mapped into this JVM"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
