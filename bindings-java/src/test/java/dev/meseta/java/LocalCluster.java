package dev.meseta.java;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Meseta cluster for the tests: one `meseta local --control` process
 * starts a master and N agents on loopback, each with its own work dir and
 * log, and on command kills the master and restarts it on the same port,
 * kills an agent, or restarts it on its work dir (it recovers what it
 * checkpointed). It reports each process as a JSON line on its stdout and
 * reads one command a line on its stdin; closing its stdin (or this JVM
 * dying) stops every process.
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

    /** How long `meseta local` may take to answer (its own waits give up before). */
    private static final Duration CONTROL_DEADLINE = Duration.ofSeconds(180);
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final Pattern AGENT_ID = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+-S\\d+)\"");
    /** One `"key": value` of a flat JSON object: a string, or a bare literal. */
    private static final Pattern FIELD =
            Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"\\s*:\\s*(\"((?:[^\"\\\\]|\\\\.)*)\"|[^,}\\s]+)");
    private static final String EOF = new String("EOF");

    private final Path root;
    private final String binary = System.getProperty("meseta.binary", "../target/debug/meseta");
    private final int agentCount;
    private final List<String> masterFlags;
    private final List<String> agentFlags;
    /** Every process by name, as `meseta local` last reported it. */
    private final Map<String, Map<String, String>> processes = new HashMap<>();
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    /** The last lines `meseta local` said to people, shown when it fails. */
    private final ArrayDeque<String> stderr = new ArrayDeque<>();
    private Process control;
    private BufferedWriter commands;
    private String master;
    private final int port;

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
        this(agents, 0, masterFlags, agentFlags);
        startMaster();
    }

    /** A cluster that will use `port`; nothing starts until {@link #startMaster}. */
    static LocalCluster onPort(int port) throws Exception {
        return new LocalCluster(0, port, List.of(), List.of());
    }

    private LocalCluster(int agentCount, int port, List<String> masterFlags, List<String> agentFlags)
            throws Exception {
        if (!new File(binary).canExecute()) {
            throw new IllegalStateException(binary + " is missing: run `make build` first");
        }
        this.root = Files.createTempDirectory("meseta-java-test");
        this.agentCount = agentCount;
        this.port = port;
        this.master = "127.0.0.1:" + port;
        this.masterFlags = List.copyOf(masterFlags);
        this.agentFlags = List.copyOf(agentFlags);
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    String master() {
        return master;
    }

    /**
     * Starts the cluster (the master, then the agents, waiting until the
     * master has them all), or, once it runs, the master again after a kill.
     */
    void startMaster() throws Exception {
        if (control != null) {
            command("start", "master");
            return;
        }
        List<String> command = new ArrayList<>(List.of(binary, "local", "--control",
                "--agents", String.valueOf(agentCount), "--port", String.valueOf(port),
                "--work-dir", root.toString(), "--resources", "cpus:2;mem:1024;disk:1024",
                "--master-arg=--allocation-interval", "--master-arg=100ms"));
        for (String flag : masterFlags) {
            command.add("--master-arg=" + flag);
        }
        for (String flag : agentFlags) {
            command.add("--agent-arg=" + flag);
        }
        control = new ProcessBuilder(command).start();
        commands = new BufferedWriter(new OutputStreamWriter(control.getOutputStream(), StandardCharsets.UTF_8));
        pump("meseta-local-events", control.getInputStream(), lines::add, () -> lines.add(EOF));
        pump("meseta-local-stderr", control.getErrorStream(), this::said, () -> { });
        try {
            while (true) {
                Map<String, String> event = next("the cluster to start");
                if ("ready".equals(event.get("event"))) {
                    master = event.get("leader");
                    return;
                }
                processes.put(event.get("name"), event);
            }
        } catch (Exception | AssertionError e) {
            close();
            throw e;
        }
    }

    /** Kills the master (SIGKILL) and starts it again on the same port. */
    void restartMaster() throws Exception {
        command("restart", "master");
    }

    /** Starts agent `index` (the next one, or one killed earlier) on its own work dir. */
    void startAgent(int index) throws Exception {
        command("start", "agent-" + index);
    }

    /** Kills agent `index` with SIGKILL: its executors and tasks keep running. */
    void killAgent(int index) throws Exception {
        command("kill", "agent-" + index);
    }

    /**
     * Kills agent `index` (SIGKILL) and starts it again on the same work dir:
     * it recovers its checkpointed executors and tasks, and takes back the
     * port they know it by.
     */
    void restartAgent(int index) throws Exception {
        command("restart", "agent-" + index);
    }

    /** The `HOST:PORT` agent `index` listens on. */
    String agentAddress(int index) {
        return Optional.ofNullable(processes.get("agent-" + index)).map(p -> p.get("address")).orElse("");
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

    /** Sends `verb name` to `meseta local` and records the process it reports back. */
    private void command(String verb, String name) throws Exception {
        if (control == null) {
            throw new IllegalStateException("the cluster is not started");
        }
        commands.write(verb + " " + name + "\n");
        commands.flush();
        Map<String, String> event = next(verb + " " + name);
        processes.put(event.get("name"), event);
    }

    /** The next event of `meseta local`; an error, its exit or its silence fail the test. */
    private Map<String, String> next(String what) throws InterruptedException {
        String line = lines.poll(CONTROL_DEADLINE.toSeconds(), TimeUnit.SECONDS);
        String trouble = null;
        Map<String, String> event = Map.of();
        if (line == null) {
            trouble = "said nothing for " + CONTROL_DEADLINE;
        } else if (line == EOF) {
            trouble = "exited";
        } else {
            event = parse(line);
            if ("error".equals(event.get("event"))) {
                trouble = "failed: " + event.get("message");
            }
        }
        if (trouble == null) {
            return event;
        }
        synchronized (stderr) {
            throw new AssertionError("meseta local " + trouble + " (waiting for " + what + "); it said:\n"
                    + String.join("\n", stderr));
        }
    }

    private void said(String line) {
        synchronized (stderr) {
            stderr.addLast(line);
            while (stderr.size() > 40) {
                stderr.removeFirst();
            }
        }
    }

    /** A flat JSON object (what `meseta local --control` writes): strings as text, literals as written, null as null. */
    static Map<String, String> parse(String line) {
        Map<String, String> fields = new HashMap<>();
        Matcher field = FIELD.matcher(line);
        while (field.find()) {
            String value = field.group(3) != null ? unescape(field.group(3)) : field.group(2);
            fields.put(unescape(field.group(1)), "null".equals(field.group(2)) ? null : value);
        }
        return fields;
    }

    private static String unescape(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != '\\' || i + 1 == text.length()) {
                out.append(c);
                continue;
            }
            char escaped = text.charAt(++i);
            switch (escaped) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'u' -> {
                    out.append((char) Integer.parseInt(text.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> out.append(escaped);
            }
        }
        return out.toString();
    }

    /** Copies the lines of `stream` to `sink` on a daemon thread, then runs `atEnd`. */
    private static void pump(String name, InputStream stream, Consumer<String> sink, Runnable atEnd) {
        Thread thread = new Thread(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                    sink.accept(line);
                }
            } catch (IOException e) {
                // The process is gone: EOF below.
            }
            atEnd.run();
        }, name);
        thread.setDaemon(true);
        thread.start();
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

    /** Closes the cluster's stdin, which stops every process, and waits for it. */
    @Override
    public void close() throws Exception {
        if (control == null) {
            return;
        }
        try {
            commands.close();
        } catch (IOException e) {
            // Already gone.
        }
        if (!control.waitFor(CONTROL_DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
            control.destroyForcibly().waitFor();
        }
    }
}
