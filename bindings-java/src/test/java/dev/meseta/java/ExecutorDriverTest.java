package dev.meseta.java;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.junit.jupiter.api.Test;

/** The executor driver of the Java API, in an executor the agent starts. */
class ExecutorDriverTest {
    /**
     * The executor's JVM finds the native library as this one did: through
     * MESOS_NATIVE_JAVA_LIBRARY when it is set (the official jar), else in
     * our jar on the classpath.
     */
    static Protos.Environment nativeLibraryEnvironment() {
        Protos.Environment.Builder environment = Protos.Environment.newBuilder();
        String path = System.getenv("MESOS_NATIVE_JAVA_LIBRARY");
        if (path != null) {
            environment.addVariables(Protos.Environment.Variable.newBuilder()
                    .setName("MESOS_NATIVE_JAVA_LIBRARY").setValue(path));
        }
        return environment.build();
    }

    static String message(Recorder.Event event) {
        return new String((byte[]) event.arg(2), StandardCharsets.UTF_8);
    }

    @Test
    void anExecutorRegistersRunsTasksExchangesMessagesAndIsKilled() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(
                    recorder, SchedulerDriverTest.framework("java-executor", 0), cluster.master());
            driver.start();
            Protos.Offer offer = SchedulerDriverTest.firstOffer(recorder);
            String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                    .map(entry -> new File(entry).getAbsolutePath())
                    .collect(Collectors.joining(File.pathSeparator));
            Protos.ExecutorInfo executor = Protos.ExecutorInfo.newBuilder()
                    .setExecutorId(Protos.ExecutorID.newBuilder().setValue("echoing"))
                    .setCommand(Protos.CommandInfo.newBuilder()
                            .setValue(System.getProperty("java.home") + "/bin/java -cp " + classpath
                                    + " dev.meseta.java.EchoingExecutor")
                            .setEnvironment(nativeLibraryEnvironment()))
                    .addResources(SchedulerDriverTest.scalar("cpus", 0.1))
                    .addResources(SchedulerDriverTest.scalar("mem", 128))
                    .build();
            Protos.TaskInfo task = SchedulerDriverTest.task("echoed", offer, "unused").toBuilder()
                    .clearCommand().setExecutor(executor).build();
            driver.launchTasks(offer.getId(), List.of(task), Protos.Filters.getDefaultInstance());

            Recorder.Event hello = recorder.await("the executor's registration", e ->
                    e.name().equals("frameworkMessage") && message(e).startsWith("registered"));
            assertEquals("registered echoing java-executor", message(hello));
            recorder.awaitState("echoed", Protos.TaskState.TASK_RUNNING);
            driver.sendFrameworkMessage(executor.getExecutorId(), offer.getSlaveId(),
                    "ping".getBytes(StandardCharsets.UTF_8));
            Recorder.Event echo = recorder.await("the echo", e ->
                    e.name().equals("frameworkMessage") && message(e).equals("echo ping"));
            assertEquals(executor.getExecutorId(), echo.arg(0));
            driver.killTask(task.getTaskId());
            recorder.awaitState("echoed", Protos.TaskState.TASK_KILLED);
            driver.stop();
            driver.join();
        }
    }
}
