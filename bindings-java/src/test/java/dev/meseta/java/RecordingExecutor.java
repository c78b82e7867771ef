package dev.meseta.java;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import com.google.protobuf.ByteString;
import org.apache.mesos.Executor;
import org.apache.mesos.ExecutorDriver;
import org.apache.mesos.MesosExecutorDriver;
import org.apache.mesos.Protos;

/**
 * An executor the agent starts in its own JVM, for the executor tests. It
 * appends one line per callback, and per driver call with the status it
 * returned, to the file $RECORD_TO (framework messages cannot tell a
 * scheduler about a disconnection or a teardown), and does what the
 * scheduler's framework messages say:
 * <ul>
 * <li>{@code finish T}: sends TASK_FINISHED for task T, with a message and data;
 * <li>{@code stop} / {@code abort}: stops / aborts its driver;
 * <li>{@code staging T}: sends TASK_STAGING, which executors may not;
 * <li>anything else, X: answers "echo X".
 * </ul>
 * Tasks run until killed. {@code main} records what calls return before
 * {@code start}, what {@code run} returns, and what calls return after it,
 * then exits 0 if {@code run} returned DRIVER_STOPPED, else 1.
 */
public final class RecordingExecutor implements Executor {
    static final String FINISHED_MESSAGE = "finished by the executor";
    static final String FINISHED_DATA = "result bytes";

    private final Path record;

    private RecordingExecutor(Path record) {
        this.record = record;
    }

    /** An ExecutorInfo running this class with the test JVM's classpath, recording to `record`. */
    static Protos.ExecutorInfo info(String executorId, Path record) {
        String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(entry -> new File(entry).getAbsolutePath())
                .collect(Collectors.joining(File.pathSeparator));
        Protos.Environment environment = ExecutorDriverTest.nativeLibraryEnvironment().toBuilder()
                .addVariables(Protos.Environment.Variable.newBuilder()
                        .setName("RECORD_TO").setValue(record.toAbsolutePath().toString()))
                .build();
        return Protos.ExecutorInfo.newBuilder()
                .setExecutorId(Protos.ExecutorID.newBuilder().setValue(executorId))
                .setCommand(Protos.CommandInfo.newBuilder()
                        .setValue(System.getProperty("java.home") + "/bin/java"
                                + " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx64m -cp " + classpath
                                + " " + RecordingExecutor.class.getName())
                        .setEnvironment(environment))
                .addResources(SchedulerDriverTest.scalar("cpus", 0.1))
                .addResources(SchedulerDriverTest.scalar("mem", 128))
                .build();
    }

    /** A task for `executor`, on the agent of `offer`. */
    static Protos.TaskInfo task(String id, Protos.Offer offer, Protos.ExecutorInfo executor) {
        return SchedulerDriverTest.task(id, offer, "unused").toBuilder()
                .clearCommand().setExecutor(executor).build();
    }

    /** What the executor recorded so far, one entry per line. */
    static List<String> lines(Path record) {
        try {
            return Files.exists(record) ? Files.readAllLines(record) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until the executor has recorded `line`. */
    static void awaitLine(Path record, String line) {
        LocalCluster.waitFor("the executor to record \"" + line + "\" (it has " + lines(record) + ")",
                () -> lines(record).contains(line));
    }

    /** Waits until the executor has recorded a line starting with `prefix`, and returns it. */
    static String awaitLineStartingWith(Path record, String prefix) {
        LocalCluster.waitFor("the executor to record \"" + prefix + "...\" (it has " + lines(record) + ")",
                () -> lines(record).stream().anyMatch(l -> l.startsWith(prefix)));
        return lines(record).stream().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow();
    }

    private synchronized void record(String line) {
        try {
            Files.writeString(record, line + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Protos.TaskStatus status(String taskId, Protos.TaskState state) {
        return Protos.TaskStatus.newBuilder()
                .setTaskId(Protos.TaskID.newBuilder().setValue(taskId)).setState(state).build();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void registered(ExecutorDriver driver, Protos.ExecutorInfo executor,
                           Protos.FrameworkInfo framework, Protos.SlaveInfo agent) {
        record("registered " + executor.getExecutorId().getValue() + " " + framework.getName()
                + " " + agent.getId().getValue());
    }

    @Override
    public void reregistered(ExecutorDriver driver, Protos.SlaveInfo agent) {
        record("reregistered " + agent.getId().getValue());
    }

    @Override
    public void disconnected(ExecutorDriver driver) {
        record("disconnected");
    }

    @Override
    public void launchTask(ExecutorDriver driver, Protos.TaskInfo task) {
        record("launchTask " + task.getTaskId().getValue());
        record("sendStatusUpdate TASK_RUNNING "
                + driver.sendStatusUpdate(status(task.getTaskId().getValue(), Protos.TaskState.TASK_RUNNING)));
    }

    @Override
    public void killTask(ExecutorDriver driver, Protos.TaskID taskId) {
        record("killTask " + taskId.getValue());
        record("sendStatusUpdate TASK_KILLED "
                + driver.sendStatusUpdate(status(taskId.getValue(), Protos.TaskState.TASK_KILLED)));
    }

    @Override
    public void frameworkMessage(ExecutorDriver driver, byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        record("frameworkMessage " + text);
        String[] words = text.split(" ", 2);
        switch (words[0]) {
            case "finish" -> record("sendStatusUpdate TASK_FINISHED " + driver.sendStatusUpdate(
                    status(words[1], Protos.TaskState.TASK_FINISHED).toBuilder()
                            .setMessage(FINISHED_MESSAGE)
                            .setData(ByteString.copyFrom(bytes(FINISHED_DATA)))
                            .build()));
            case "stop" -> record("stop " + driver.stop());
            case "abort" -> {
                record("abort " + driver.abort());
                record("sendFrameworkMessage after abort " + driver.sendFrameworkMessage(bytes("after abort")));
                record("sendStatusUpdate after abort "
                        + driver.sendStatusUpdate(status("any", Protos.TaskState.TASK_FAILED)));
            }
            case "staging" -> record("sendStatusUpdate TASK_STAGING "
                    + driver.sendStatusUpdate(status(words[1], Protos.TaskState.TASK_STAGING)));
            default -> record("sendFrameworkMessage " + driver.sendFrameworkMessage(bytes("echo " + text)));
        }
    }

    @Override
    public void shutdown(ExecutorDriver driver) {
        record("shutdown");
    }

    @Override
    public void error(ExecutorDriver driver, String message) {
        record("error " + message);
    }

    public static void main(String[] args) {
        RecordingExecutor executor = new RecordingExecutor(Path.of(System.getenv("RECORD_TO")));
        MesosExecutorDriver driver = new MesosExecutorDriver(executor);
        executor.record("before start: sendFrameworkMessage " + driver.sendFrameworkMessage(bytes("early"))
                + ", sendStatusUpdate " + driver.sendStatusUpdate(status("any", Protos.TaskState.TASK_RUNNING))
                + ", join " + driver.join());
        Protos.Status status = driver.run();
        executor.record("run " + status);
        executor.record("after run: sendFrameworkMessage " + driver.sendFrameworkMessage(bytes("late"))
                + ", start " + driver.start());
        System.exit(status == Protos.Status.DRIVER_STOPPED ? 0 : 1);
    }
}
