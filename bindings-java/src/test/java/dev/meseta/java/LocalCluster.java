package dev.meseta.java;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Meseta cluster for the tests: one `meseta master` and N `meseta
 * agent` processes on loopback, each with its own work dir and log; the
 * master can be killed and restarted on the same port, an agent killed, or
 * killed and restarted on its work dir (it recovers what it checkpointed).
 */
final class LocalCluster implements AutoCloseable {
    static final Duration DEADLINE = Duration.ofSeconds(60);

    /**
     * Master flags that notice a silent agent within about 1.5 s (pings
     * every 300 ms, 5 unanswered in a row), as the Python binding's tests do;
     * the default is 75 s.
     */
    static final List<String> FAST_AGENT_TIMEOUTS =
            List.of("--agent-ping-timeout", "300ms", "--max-agent-ping-timeouts", "5");

    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final Pattern AGENT_ID = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+-S\\d+)\"");

    private final Path root;
    private final String binary = System.getProperty("meseta.binary", "../target/debug/meseta");
    private Process master;
    private final List<Process> agents = new ArrayList<>();
    private final List<String> masterFlags;
    private final List<String> agentFlags;
    final int port;

    /** Starts a master on a free port and `agents` agents. */
    LocalCluster(int agents) throws Exception {
        this(agents, List.of(), List.of());
    }

    /**
     * Starts a master with `masterFlags` added to its usual ones, and
     * `agents` agents with `agentFlags` added, then waits until the master
     * counts them all active.
     */
    LocalCluster(int agents, List<String> masterFlags, List<String> agentFlags) throws Exception {
        this(agents, freePort(), true, masterFlags, agentFlags);
        waitForActiveAgents(agents);
    }

    /** A cluster that will use `port`; nothing starts until {@link #startMaster}. */
    static LocalCluster onPort(int port) throws Exception {
        return new LocalCluster(0, port, false, List.of(), List.of());
    }

    private LocalCluster(int agentCount, int port, boolean start, List<String> masterFlags,
                         List<String> agentFlags) throws Exception {
        if (!new File(binary).canExecute()) {
            throw new IllegalStateException(binary + " is missing: run `make build` first");
        }
        this.root = Files.createTempDirectory("meseta-java-test");
        this.port = port;
        this.masterFlags = List.copyOf(masterFlags);
        this.agentFlags = List.copyOf(agentFlags);
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
        List<String> args = new ArrayList<>(List.of("master", "--ip", "127.0.0.1", "--port", String.valueOf(port),
                "--allocation-interval", "100ms"));
        args.addAll(masterFlags);
        master = launch("master", args);
    }

    /** Kills the master (SIGKILL) and starts it again on the same port. */
    void restartMaster() throws Exception {
        master.destroyForcibly().waitFor();
        startMaster();
    }

    /** Starts agent `index` (the next one, or one killed earlier) on its own work dir. */
    void startAgent(int index) throws Exception {
        // A cgroup root of its own: agents of tests running side by side
        // must not take each other's containers for orphans.
        String cgroupsRoot = "meseta-test/" + root.getFileName() + "-agent-" + index;
        List<String> args = new ArrayList<>(List.of("agent", "--master", master(), "--ip", "127.0.0.1",
                "--port", "0", "--resources", "cpus:2;mem:1024;disk:1024", "--cgroups-root", cgroupsRoot));
        args.addAll(agentFlags);
        Process agent = launch("agent-" + index, args);
        if (index < agents.size()) {
            agents.set(index, agent);
        } else {
            agents.add(agent);
        }
    }

    /** Kills agent `index` with SIGKILL: its executors and tasks keep running. */
    void killAgent(int index) throws InterruptedException {
        agents.get(index).destroyForcibly().waitFor();
    }

    /**
     * Kills agent `index` (SIGKILL) and starts it again on the same work dir:
     * it recovers its checkpointed executors and tasks, and takes back the
     * port they know it by.
     */
    void restartAgent(int index) throws Exception {
        killAgent(index);
        startAgent(index);
    }

    /** The `HOST:PORT` agent `index` listens on. */
    String agentAddress(int index) {
        return read(root.resolve("agent-" + index).resolve("address")).trim();
    }

    /** The ID agent `index` registered with (from its `/state`), waiting until it has one. */
    String agentId(int index) {
        String[] id = new String[1];
        waitFor("agent-" + index + " to know its ID", () -> {
            Matcher matcher = AGENT_ID.matcher(get(agentAddress(index), "/state"));
            if (matcher.find()) {
                id[0] = matcher.group(1);
            }
            return id[0] != null;
        });
        return id[0];
    }

    /** A value of the master's `/metrics/snapshot`, or NaN if it is missing or the master is down. */
    double metric(String name) {
        Matcher matcher = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*([-+0-9.eE]+)")
                .matcher(get(master(), "/metrics/snapshot"));
        return matcher.find() ? Double.parseDouble(matcher.group(1)) : Double.NaN;
    }

    /** Waits until the master's metric `name` is `value`. */
    void waitForMetric(String name, double value) {
        waitFor(name + " = " + value, () -> metric(name) == value);
    }

    void waitForActiveAgents(int count) {
        waitForMetric("master/slaves_active", count);
    }

    /** The body of `GET http://address/path`, or "" if it cannot be had. */
    static String get(String address, String path) {
        try {
            HttpResponse<String> response = HTTP.send(
                    HttpRequest.newBuilder(URI.create("http://" + address + path))
                            .timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? response.body() : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
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
