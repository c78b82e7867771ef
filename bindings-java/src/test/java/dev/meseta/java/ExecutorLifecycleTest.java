package dev.meseta.java;

import static dev.meseta.java.AgentFailureTest.exitCode;
import static dev.meseta.java.ExecutorCallbacksTest.send;
import static dev.meseta.java.RecordingExecutor.awaitLine;
import static dev.meseta.java.RecordingExecutor.awaitLineStartingWith;
import static dev.meseta.java.RecordingExecutor.lines;
import static dev.meseta.java.SchedulerDriverTest.firstOffer;
import static dev.meseta.java.SchedulerDriverTest.framework;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a Java executor's driver ends: shut down by the agent when its
 * framework is torn down, stopped or aborted by the executor itself, or
 * aborted by the driver on an error; what run() returns then, and what the
 * scheduler sees of it.
 */
class ExecutorLifecycleTest {
    @TempDir
    Path sandbox;

    private LocalCluster cluster;
    private Recorder recorder;
    private MesosSchedulerDriver driver;
    private Protos.Offer offer;
    private Protos.ExecutorInfo executor;
    private Path record;

    /** A cluster, a scheduler, and a RecordingExecutor running task "worker". */
    @BeforeEach
    void launchTheExecutor() throws Exception {
        cluster = new LocalCluster(1);
        recorder = new Recorder();
        driver = new MesosSchedulerDriver(recorder, framework("java-executor-life", 0), cluster.master());
        driver.start();
        offer = firstOffer(recorder);
        record = sandbox.resolve("executor.log");
        executor = RecordingExecutor.info("mortal", record);
        driver.launchTasks(List.of(offer.getId()), List.of(RecordingExecutor.task("worker", offer, executor)));
        recorder.awaitState("worker", Protos.TaskState.TASK_RUNNING);
    }

    @AfterEach
    void stopEverything() throws Exception {
        if (driver != null) {
            driver.stop();
            driver.join();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    /** The executorLost the scheduler got for this executor on this agent: its wait status. */
    private int awaitExecutorLost() throws InterruptedException {
        Recorder.Event lost = recorder.await("executorLost");
        assertEquals(executor.getExecutorId(), lost.arg(0));
        assertEquals(offer.getSlaveId(), lost.arg(1));
        return (Integer) lost.arg(2);
    }

    @Test
    void aTornDownFrameworksExecutorIsShutDownAndItsRunReturnsDriverStopped() throws Exception {
        assertEquals(Protos.Status.DRIVER_STOPPED, driver.stop());
        driver.join();
        awaitLine(record, "after run: sendFrameworkMessage DRIVER_STOPPED, start DRIVER_STOPPED");
        List<String> seen = lines(record);
        int shutdown = seen.indexOf("shutdown");
        assertTrue(shutdown >= 0 && shutdown == seen.indexOf("run DRIVER_STOPPED") - 1,
                "shutdown, then run returns: " + seen);
    }

    @Test
    void stopInTheExecutorEndsItsRunWithDriverStoppedAndTheSchedulerSeesItExitCleanly() throws Exception {
        send(driver, executor, offer, "stop");
        awaitLine(record, "stop DRIVER_STOPPED");
        awaitLine(record, "run DRIVER_STOPPED");
        awaitLine(record, "after run: sendFrameworkMessage DRIVER_STOPPED, start DRIVER_STOPPED");
        assertEquals(0, exitCode(awaitExecutorLost()));
        Protos.TaskStatus failed = recorder.awaitState("worker", Protos.TaskState.TASK_FAILED);
        assertEquals(Protos.TaskStatus.Reason.REASON_EXECUTOR_TERMINATED, failed.getReason());
        assertTrue(!lines(record).contains("shutdown"), "stop() is not a shutdown: " + lines(record));
    }

    @Test
    void abortInTheExecutorEndsItsRunWithDriverAbortedAndLaterCallsAreRefused() throws Exception {
        send(driver, executor, offer, "abort");
        awaitLine(record, "run DRIVER_ABORTED");
        assertEquals(1, exitCode(awaitExecutorLost()));
        List<String> seen = lines(record);
        assertTrue(seen.contains("abort DRIVER_ABORTED"), seen.toString());
        assertTrue(seen.contains("sendFrameworkMessage after abort DRIVER_ABORTED"), seen.toString());
        assertTrue(seen.contains("sendStatusUpdate after abort DRIVER_ABORTED"), seen.toString());
        assertTrue(seen.contains("after run: sendFrameworkMessage DRIVER_ABORTED, start DRIVER_ABORTED"),
                seen.toString());
        recorder.awaitState("worker", Protos.TaskState.TASK_FAILED);
        // Nothing sent after the abort reached the scheduler.
        assertTrue(recorder.events().stream().noneMatch(e -> e.name().equals("frameworkMessage")),
                recorder.events().toString());
        assertTrue(recorder.events().stream().noneMatch(e -> e.name().equals("statusUpdate")
                && ((Protos.TaskStatus) e.arg(0)).getTaskId().getValue().equals("any")), recorder.events().toString());
    }

    @Test
    void anExecutorThatSendsTaskStagingGetsAnErrorAndItsDriverAborts() throws Exception {
        send(driver, executor, offer, "staging worker");
        String error = awaitLineStartingWith(record, "error ");
        assertTrue(error.contains("TASK_STAGING"), error);
        awaitLine(record, "run DRIVER_ABORTED");
        assertEquals(1, exitCode(awaitExecutorLost()));
        // The scheduler never sees TASK_STAGING from the executor; the task fails with it.
        Protos.TaskStatus failed = recorder.awaitState("worker", Protos.TaskState.TASK_FAILED);
        assertEquals(Protos.TaskStatus.Reason.REASON_EXECUTOR_TERMINATED, failed.getReason());
        assertTrue(recorder.events().stream().noneMatch(e -> e.name().equals("statusUpdate")
                && ((Protos.TaskStatus) e.arg(0)).getState() == Protos.TaskState.TASK_STAGING),
                recorder.events().toString());
    }
}
