package dev.meseta.java;

import static dev.meseta.java.Recorder.QUIET;
import static dev.meseta.java.SchedulerDriverTest.firstOffer;
import static dev.meseta.java.SchedulerDriverTest.framework;
import static dev.meseta.java.SchedulerDriverTest.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import com.google.protobuf.ByteString;
import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Protos.Status;
import org.apache.mesos.SchedulerDriver;
import org.junit.jupiter.api.Test;

/**
 * The scheduler driver's life: abort, run, what every call returns when the
 * driver is not running, and the constructors' credential, explicit
 * acknowledgements and suppressed roles.
 */
class SchedulerLifecycleTest {
    /** Runs `body` on a new thread; its result is the future's. */
    static <T> FutureTask<T> inThread(String name, Callable<T> body) {
        FutureTask<T> future = new FutureTask<>(body);
        new Thread(future, name).start();
        return future;
    }

    /** Asserts that `future` is still running `for` a while: it blocks. */
    static void assertBlocks(FutureTask<?> future, Duration during) {
        assertThrows(TimeoutException.class, () -> future.get(during.toMillis(), TimeUnit.MILLISECONDS));
    }

    static Protos.Credential credential(String principal) {
        return Protos.Credential.newBuilder().setPrincipal(principal).setSecret("s3cret").build();
    }

    /** Every call but start, stop, abort and join, each of which must return `expected`. */
    static void assertEveryCallReturns(Status expected, SchedulerDriver driver, Protos.Offer offer) {
        Protos.OfferID offerId = offer.getId();
        Protos.TaskInfo task = task("never-sent", offer, "true");
        Protos.Filters filters = Protos.Filters.newBuilder().setRefuseSeconds(1).build();
        Protos.TaskStatus status = Protos.TaskStatus.newBuilder()
                .setTaskId(task.getTaskId()).setState(Protos.TaskState.TASK_RUNNING)
                .setSlaveId(offer.getSlaveId()).setUuid(ByteString.copyFromUtf8("0123456789abcdef"))
                .build();
        Protos.Offer.Operation launch = Protos.Offer.Operation.newBuilder()
                .setType(Protos.Offer.Operation.Type.LAUNCH)
                .setLaunch(Protos.Offer.Operation.Launch.newBuilder().addTaskInfos(task)).build();
        Protos.ExecutorID executorId = Protos.ExecutorID.newBuilder().setValue("nobody").build();
        assertEquals(expected, driver.requestResources(List.of()), "requestResources");
        assertEquals(expected, driver.launchTasks(List.of(offerId), List.of(task)), "launchTasks(ids, tasks)");
        assertEquals(expected, driver.launchTasks(List.of(offerId), List.of(task), filters),
                "launchTasks(ids, tasks, filters)");
        assertEquals(expected, driver.launchTasks(offerId, List.of(task)), "launchTasks(id, tasks)");
        assertEquals(expected, driver.launchTasks(offerId, List.of(task), filters), "launchTasks(id, tasks, filters)");
        assertEquals(expected, driver.acceptOffers(List.of(offerId), List.of(launch), filters), "acceptOffers");
        assertEquals(expected, driver.declineOffer(offerId), "declineOffer(id)");
        assertEquals(expected, driver.declineOffer(offerId, filters), "declineOffer(id, filters)");
        assertEquals(expected, driver.killTask(task.getTaskId()), "killTask");
        assertEquals(expected, driver.reviveOffers(), "reviveOffers()");
        assertEquals(expected, driver.reviveOffers(List.of("*")), "reviveOffers(roles)");
        assertEquals(expected, driver.suppressOffers(), "suppressOffers()");
        assertEquals(expected, driver.suppressOffers(List.of("*")), "suppressOffers(roles)");
        assertEquals(expected, driver.acknowledgeStatusUpdate(status), "acknowledgeStatusUpdate");
        assertEquals(expected, driver.sendFrameworkMessage(executorId, offer.getSlaveId(),
                "lost".getBytes(StandardCharsets.UTF_8)), "sendFrameworkMessage");
        assertEquals(expected, driver.reconcileTasks(List.of()), "reconcileTasks");
    }

    @Test
    void callsOnADriverThatWasNeverStartedReturnDriverNotStartedAndReachNoMaster() throws Exception {
        Recorder recorder = new Recorder();
        // Nobody listens there: nothing may try to connect anyway.
        MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder, framework("java-idle", 0),
                "127.0.0.1:" + LocalCluster.freePort(), false);
        Protos.Offer offer = Protos.Offer.newBuilder()
                .setId(Protos.OfferID.newBuilder().setValue("no-such-offer"))
                .setFrameworkId(Protos.FrameworkID.newBuilder().setValue("no-such-framework"))
                .setSlaveId(Protos.SlaveID.newBuilder().setValue("no-such-agent"))
                .setHostname("nowhere")
                .build();
        assertEveryCallReturns(Status.DRIVER_NOT_STARTED, driver, offer);
        assertEquals(Status.DRIVER_NOT_STARTED, driver.join(), "join returns at once");
        assertEquals(Status.DRIVER_NOT_STARTED, driver.abort());
        assertEquals(Status.DRIVER_NOT_STARTED, driver.stop());
        assertEquals(Status.DRIVER_NOT_STARTED, driver.stop(true));
        assertEquals(List.of(), recorder.events());
    }

    @Test
    void callsOnAStoppedDriverReturnDriverStoppedAndAStoppedDriverCannotStartAgain() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-stopped", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            assertEquals(Status.DRIVER_STOPPED, driver.stop());
            assertEquals(Status.DRIVER_STOPPED, driver.join());
            assertEveryCallReturns(Status.DRIVER_STOPPED, driver, offer);
            assertEquals(Status.DRIVER_STOPPED, driver.start());
            assertEquals(Status.DRIVER_STOPPED, driver.run(), "run returns at once");
            assertEquals(Status.DRIVER_STOPPED, driver.abort());
            assertEquals(Status.DRIVER_STOPPED, driver.stop(true));
            assertEquals(Status.DRIVER_STOPPED, driver.join());
            // The framework was torn down, and nothing was launched.
            cluster.waitForMetric("master/frameworks_connected", 0);
            assertEquals(0, cluster.metric("master/frameworks_disconnected"));
            assertEquals(0, cluster.metric("master/tasks_staging") + cluster.metric("master/tasks_running"));
        }
    }

    @Test
    void abortReleasesJoinWithDriverAbortedSilencesCallbacksAndKeepsTheFrameworkUntilStop() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-aborted", 3600), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            FutureTask<Status> joined = inThread("joiner", driver::join);
            assertBlocks(joined, Duration.ofMillis(300));

            assertEquals(Status.DRIVER_ABORTED, driver.abort());
            assertEquals(Status.DRIVER_ABORTED, joined.get(60, TimeUnit.SECONDS));
            assertEquals(Status.DRIVER_ABORTED, driver.join());
            assertEveryCallReturns(Status.DRIVER_ABORTED, driver, offer);
            assertEquals(Status.DRIVER_ABORTED, driver.start());
            assertEquals(Status.DRIVER_ABORTED, driver.abort());

            // The master still offers to the framework (a new agent's
            // resources, on top of the offer it holds: the decline above was
            // not sent), but no callback reaches the scheduler any more.
            recorder.clear();
            cluster.startAgent(1);
            cluster.waitForMetric("master/outstanding_offers", 2);
            recorder.assertNone("callback after abort", e -> true, QUIET);
            // Aborting is not tearing down: the framework is still subscribed.
            assertEquals(1, cluster.metric("master/frameworks_connected"));

            // stop() after abort says the driver was aborted, and tears it down.
            assertEquals(Status.DRIVER_ABORTED, driver.stop());
            assertEquals(Status.DRIVER_STOPPED, driver.join());
            cluster.waitForMetric("master/frameworks_connected", 0);
            assertEquals(0, cluster.metric("master/frameworks_disconnected"), "kept for a failover");
            assertEquals(0, cluster.metric("master/outstanding_offers"));
        }
    }

    @Test
    void runBlocksUntilAnotherThreadStopsTheDriver() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-runner", 0), cluster.master());
            FutureTask<Status> ran = inThread("runner", driver::run);
            recorder.await("registered");
            firstOffer(recorder);
            assertBlocks(ran, Duration.ofMillis(300));
            assertEquals(Status.DRIVER_STOPPED, driver.stop());
            assertEquals(Status.DRIVER_STOPPED, ran.get(60, TimeUnit.SECONDS));
            cluster.waitForMetric("master/frameworks_connected", 0);
            assertEquals(0, cluster.metric("master/frameworks_disconnected"), "stop() tears down");
        }
    }

    @Test
    void aCredentialsPrincipalBecomesTheFrameworksPrincipal() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder, framework("java-credited", 0),
                    cluster.master(), credential("java-principal"));
            driver.start();
            Protos.FrameworkID id = (Protos.FrameworkID) recorder.await("registered").arg(0);
            String frameworks = LocalCluster.get(cluster.master(), "/master/frameworks");
            assertTrue(frameworks.contains("\"" + id.getValue() + "\""), frameworks);
            assertTrue(frameworks.contains("\"principal\":\"java-principal\""), frameworks);
            assertFalse(frameworks.contains("s3cret"), "the secret is not shown");
            driver.stop();
            driver.join();
        }
    }

    @Test
    void withoutImplicitAcknowledgementsAnUpdateWaitsForTheAcknowledgementOfThePreviousOne() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder, framework("java-explicit", 0),
                    cluster.master(), false, credential("java-acknowledger"));
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            driver.launchTasks(List.of(offer.getId()), List.of(task("patient", offer, "sleep 600")));
            Protos.TaskStatus starting = recorder.awaitState("patient", Protos.TaskState.TASK_STARTING);
            recorder.assertNone("TASK_RUNNING before TASK_STARTING is acknowledged", e ->
                    e.name().equals("statusUpdate")
                            && ((Protos.TaskStatus) e.arg(0)).getState() == Protos.TaskState.TASK_RUNNING, QUIET);
            assertEquals(Status.DRIVER_RUNNING, driver.acknowledgeStatusUpdate(starting));
            driver.acknowledgeStatusUpdate(recorder.awaitState("patient", Protos.TaskState.TASK_RUNNING));
            assertTrue(LocalCluster.get(cluster.master(), "/master/frameworks")
                    .contains("\"principal\":\"java-acknowledger\""));
            driver.killTask(starting.getTaskId());
            driver.acknowledgeStatusUpdate(recorder.awaitState("patient", Protos.TaskState.TASK_KILLED));
            driver.stop();
            driver.join();
        }
    }

    @Test
    void aDriverBuiltWithItsRoleSuppressedGetsNoOffersUntilItRevives() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            Protos.FrameworkInfo framework = OffersTest.withRoles(framework("java-quiet", 0), "java-quiet");
            MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder, framework, List.of("java-quiet"),
                    cluster.master(), true, credential("java-quiet-principal"));
            driver.start();
            recorder.await("registered");
            recorder.assertNone("offers to a role suppressed at subscription",
                    e -> e.name().equals("resourceOffers"), QUIET);
            assertEquals(Status.DRIVER_RUNNING, driver.reviveOffers());
            Protos.Offer offer = firstOffer(recorder);
            assertEquals("java-quiet", offer.getResources(0).getAllocationInfo().getRole());
            driver.stop();
            driver.join();
        }
    }
}
