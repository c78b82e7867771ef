package org.apache.mesos;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Loads Meseta's {@code libmesos} into the JVM, once. Where from, in order:
 *
 * <ol>
 *   <li>the path in {@code MESOS_NATIVE_JAVA_LIBRARY};
 *   <li>the path in {@code MESOS_NATIVE_LIBRARY} (the older name);
 *   <li>the copy packed inside this jar for the running platform, extracted
 *       to a temporary file;
 *   <li>{@code mesos} on {@code java.library.path}.
 * </ol>
 */
public class MesosNativeLibrary {
    /** The Mesos API version this jar provides. */
    public static final String VERSION = "1.11.0";

    /** Where the build puts the library inside the jar, per {@code os.name}-{@code os.arch}. */
    static final String BUNDLED_PREFIX = "META-INF/native/";

    private static Version version = null;
    private static boolean loaded = false;

    /** A Mesos version, as the native library reports it. */
    public static class Version implements Comparable<Version> {
        public final long major;
        public final long minor;
        public final long patch;

        public Version(long major, long minor, long patch) {
            if (major < 0 || minor < 0 || patch < 0) {
                throw new IllegalArgumentException(
                        "version parts must not be negative: " + major + "." + minor + "." + patch);
            }
            this.major = major;
            this.minor = minor;
            this.patch = patch;
        }

        public Version(long major, long minor) {
            this(major, minor, 0);
        }

        public Version(long major) {
            this(major, 0, 0);
        }

        public boolean equals(Version other) {
            return other != null && compareTo(other) == 0;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Version && equals((Version) other);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(major) * 31 * 31 + Long.hashCode(minor) * 31 + Long.hashCode(patch);
        }

        @Override
        public int compareTo(Version other) {
            int byMajor = Long.compare(major, other.major);
            if (byMajor != 0) {
                return byMajor;
            }
            int byMinor = Long.compare(minor, other.minor);
            return byMinor != 0 ? byMinor : Long.compare(patch, other.patch);
        }

        public boolean before(Version other) {
            return compareTo(other) < 0;
        }

        public boolean after(Version other) {
            return compareTo(other) > 0;
        }

        @Override
        public String toString() {
            return major + "." + minor + "." + patch;
        }
    }

    /** Loads the library from {@code path}, unless a library is already loaded. */
    public static synchronized void load(String path) {
        if (loaded) {
            return;
        }
        try {
            System.load(path);
        } catch (UnsatisfiedLinkError e) {
            UnsatisfiedLinkError error =
                    new UnsatisfiedLinkError("Failed to load the Meseta native library from " + path + ": " + e.getMessage());
            error.initCause(e);
            throw error;
        }
        loaded = true;
    }

    /** Loads the library from the first place listed in the class documentation that has one. */
    public static void load() {
        synchronized (MesosNativeLibrary.class) {
            if (loaded) {
                return;
            }
            String path = System.getenv("MESOS_NATIVE_JAVA_LIBRARY");
            if (path == null) {
                path = System.getenv("MESOS_NATIVE_LIBRARY");
                if (path != null) {
                    System.err.println(
                            "Warning: MESOS_NATIVE_LIBRARY is deprecated, use MESOS_NATIVE_JAVA_LIBRARY instead");
                }
            }
            if (path != null) {
                load(path);
                return;
            }
            Path extracted = extractBundled();
            if (extracted != null) {
                try {
                    load(extracted.toString());
                } finally {
                    // The mapping outlives the file: nothing is left behind,
                    // even when the JVM is killed.
                    deleteQuietly(extracted);
                }
                return;
            }
            try {
                System.loadLibrary("mesos");
            } catch (UnsatisfiedLinkError e) {
                UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                        "No Meseta native library: set MESOS_NATIVE_JAVA_LIBRARY to the path of libmesos.so "
                                + "(this jar has no copy for " + platform() + ", and java.library.path has none: "
                                + e.getMessage() + ")");
                error.initCause(e);
                throw error;
            }
            loaded = true;
        }
    }

    /** The version of the loaded native library. */
    public static synchronized Version version() {
        if (version == null) {
            load();
            version = _version();
        }
        return version;
    }

    private static native Version _version();

    static String platform() {
        return System.getProperty("os.name") + "-" + System.getProperty("os.arch");
    }

    /** Copies the bundled library to a temporary file; null when the jar has none for this platform. */
    private static Path extractBundled() {
        String resource = BUNDLED_PREFIX + platform() + "/" + System.mapLibraryName("mesos");
        try (InputStream in = MesosNativeLibrary.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                return null;
            }
            Path file = Files.createTempFile("meseta-libmesos-", ".so");
            try {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                deleteQuietly(file);
                throw e;
            }
            return file;
        } catch (IOException e) {
            throw new IllegalStateException(
                    "Failed to extract the bundled Meseta native library (" + resource + ") to a temporary file; "
                            + "set MESOS_NATIVE_JAVA_LIBRARY to a libmesos.so instead",
                    e);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            System.err.println("Warning: could not delete " + file + ": " + e.getMessage());
        }
    }
}
