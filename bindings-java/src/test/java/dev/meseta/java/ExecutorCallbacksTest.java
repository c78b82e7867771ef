package dev.meseta.java;

import static dev.meseta.java.RecordingExecutor.awaitLine;
import static dev.meseta.java.RecordingExecutor.lines;
import static dev.meseta.java.SchedulerDriverTest.firstOffer;
import static dev.meseta.java.SchedulerDriverTest.framework;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import org.apache.mesos.MesosExecutorDriver;
import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The executor driver's callbacks and calls in a Java executor
 * ({@link RecordingExecutor}) that a real agent runs: registration, status
 * updates and messages both ways, and a disconnection and re-registration
 * across an agent restart.
 */
class ExecutorCallbacksTest {
    @TempDir
    Path sandbox;

    static void send(MesosSchedulerDriver driver, Protos.ExecutorInfo executor, Protos.Offer offer, String text) {
        assertEquals(Protos.Status.DRIVER_RUNNING, driver.sendFrameworkMessage(
                executor.getExecutorId(), offer.getSlaveId(), text.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void theExecutorsStatusUpdatesAndMessagesReachTheSchedulerWithItsIds() throws Exception {
        Path record = sandbox.resolve("executor.log");
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-recorded", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            Protos.ExecutorInfo executor = RecordingExecutor.info("recorder", record);
            driver.launchTasks(List.of(offer.getId()), List.of(RecordingExecutor.task("worker", offer, executor)));

            Protos.TaskStatus running = recorder.awaitState("worker", Protos.TaskState.TASK_RUNNING);
            assertEquals(Protos.TaskStatus.Source.SOURCE_EXECUTOR, running.getSource());
            assertEquals(executor.getExecutorId(), running.getExecutorId());
            assertEquals(offer.getSlaveId(), running.getSlaveId());
            awaitLine(record, "sendStatusUpdate TASK_RUNNING DRIVER_RUNNING");
            assertEquals(List.of(
                    "before start: sendFrameworkMessage DRIVER_NOT_STARTED, sendStatusUpdate DRIVER_NOT_STARTED,"
                            + " join DRIVER_NOT_STARTED",
                    "registered recorder java-recorded " + offer.getSlaveId().getValue(),
                    "launchTask worker",
                    "sendStatusUpdate TASK_RUNNING DRIVER_RUNNING"), lines(record));

            send(driver, executor, offer, "hello");
            Recorder.Event echo = recorder.await("the executor's message", e -> e.name().equals("frameworkMessage")
                    && ExecutorDriverTest.message(e).equals("echo hello"));
            assertEquals(executor.getExecutorId(), echo.arg(0));
            assertEquals(offer.getSlaveId(), echo.arg(1));
            awaitLine(record, "sendFrameworkMessage DRIVER_RUNNING");

            send(driver, executor, offer, "finish worker");
            Protos.TaskStatus finished = recorder.awaitState("worker", Protos.TaskState.TASK_FINISHED);
            assertEquals(Protos.TaskStatus.Source.SOURCE_EXECUTOR, finished.getSource());
            assertEquals(RecordingExecutor.FINISHED_MESSAGE, finished.getMessage());
            assertEquals(RecordingExecutor.FINISHED_DATA, finished.getData().toStringUtf8());
            awaitLine(record, "sendStatusUpdate TASK_FINISHED DRIVER_RUNNING");
            driver.stop();
            driver.join();
        }
    }

    @Test
    void anAgentRestartDisconnectsTheExecutorWhichReregistersAndKeepsItsTask() throws Exception {
        Path record = sandbox.resolve("executor.log");
        // A recovered agent gives its executors 2 s to come back by default;
        // 5 s keeps a busy machine from failing the test (the executor then
        // retries at least every 2.5 s).
        List<String> patient = List.of("--executor-reregistration-timeout", "5secs");
        try (LocalCluster cluster = new LocalCluster(1, List.of(), patient)) {
            Recorder recorder = new Recorder();
            Protos.FrameworkInfo framework = framework("java-checkpointed", 3600).toBuilder()
                    .setCheckpoint(true).build();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder, framework, cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            Protos.ExecutorInfo executor = RecordingExecutor.info("durable", record);
            driver.launchTasks(List.of(offer.getId()), List.of(RecordingExecutor.task("kept", offer, executor)));
            recorder.awaitState("kept", Protos.TaskState.TASK_RUNNING);

            cluster.restartAgent(0);
            awaitLine(record, "reregistered " + offer.getSlaveId().getValue());
            List<String> seen = lines(record);
            assertTrue(seen.indexOf("disconnected") >= 0
                    && seen.indexOf("disconnected") < seen.indexOf("reregistered " + offer.getSlaveId().getValue()),
                    "disconnected, then reregistered: " + seen);
            // The task survived, and the executor still gets what the scheduler sends.
            recorder.clear();
            cluster.waitForActiveAgents(1);
            driver.reconcileTasks(List.of());
            recorder.awaitState("kept", Protos.TaskState.TASK_RUNNING);
            driver.killTask(Protos.TaskID.newBuilder().setValue("kept").build());
            recorder.awaitState("kept", Protos.TaskState.TASK_KILLED);
            awaitLine(record, "killTask kept");
            driver.stop();
            driver.join();
        }
    }

    @Test
    void anExecutorDriverOutsideAnAgentRefusesToBeBuiltAndSaysWhatIsMissing() {
        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> new MesosExecutorDriver(new EchoingExecutor()));
        assertTrue(refused.getMessage().contains("MESOS_"), refused.getMessage());
    }
}
