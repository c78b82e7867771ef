package dev.meseta.java;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A real Meseta cluster for the tests: one `meseta master` and N `meseta
 * agent` processes on loopback, each with its own work dir and log; the
 * master can be killed and restarted on the same port.
 */
final class LocalCluster implements AutoCloseable {
    static final Duration DEADLINE = Duration.ofSeconds(60);

    private final Path root;
    private final String binary = System.getProperty("meseta.binary", "../target/debug/meseta");
    private Process master;
    private final List<Process> agents = new ArrayList<>();
    final int port;

    /** Starts a master on a free port and `agents` agents. */
    LocalCluster(int agents) throws Exception {
        this(agents, freePort(), true);
    }

    /** A cluster that will use `port`; nothing starts until {@link #startMaster}. */
    static LocalCluster onPort(int port) throws Exception {
        return new LocalCluster(0, port, false);
    }

    private LocalCluster(int agentCount, int port, boolean start) throws Exception {
        if (!new File(binary).canExecute()) {
            throw new IllegalStateException(binary + " is missing: run `make build` first");
        }
        this.root = Files.createTempDirectory("meseta-java-test");
        this.port = port;
        if (start) {
            startMaster();
            for (int i = 0; i < agentCount; i++) {
                startAgent(i);
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    String master() {
        return "127.0.0.1:" + port;
    }

    void startMaster() throws Exception {
        master = launch("master", List.of("master", "--ip", "127.0.0.1", "--port", String.valueOf(port),
                "--allocation-interval", "100ms"));
    }

    /** Kills the master (SIGKILL) and starts it again on the same port. */
    void restartMaster() throws Exception {
        master.destroyForcibly().waitFor();
        startMaster();
    }

    void startAgent(int index) throws Exception {
        agents.add(launch("agent-" + index, List.of("agent", "--master", master(), "--ip", "127.0.0.1",
                "--port", "0", "--resources", "cpus:2;mem:1024;disk:1024")));
    }

    private Process launch(String name, List<String> args) throws Exception {
        Path workDir = root.resolve(name);
        Files.createDirectories(workDir);
        Path address = workDir.resolve("address");
        Files.deleteIfExists(address);
        List<String> command = new ArrayList<>();
        command.add(binary);
        command.addAll(args);
        command.add("--work-dir");
        command.add(workDir.toString());
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(root.resolve(name + ".log").toFile()))
                .start();
        waitFor(name + " to listen", () -> Files.exists(address) && !read(address).isBlank());
        return process;
    }

    private static String read(Path path) {
        try {
            return Files.readString(path);
        } catch (IOException e) {
            return "";
        }
    }

    static void waitFor(String what, BooleanSupplier condition) {
        Instant end = Instant.now().plus(DEADLINE);
        while (Instant.now().isBefore(end)) {
            if (condition.getAsBoolean()) {
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what);
            }
        }
        throw new AssertionError("timed out after " + DEADLINE + " waiting for " + what);
    }

    @Override
    public void close() throws Exception {
        for (Process agent : agents) {
            agent.destroy();
        }
        for (Process agent : agents) {
            agent.waitFor();
        }
        if (master != null) {
            master.destroy();
            master.waitFor();
        }
    }
}
