package dev.meseta.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.junit.jupiter.api.Test;

/**
 * The scheduler driver of the org.apache.mesos Java API on Meseta's
 * libmesos.so, against real master and agent processes.
 */
class SchedulerDriverTest {
    static Protos.FrameworkInfo framework(String name, double failoverTimeout) {
        return Protos.FrameworkInfo.newBuilder()
                .setUser("")
                .setName(name)
                .setFailoverTimeout(failoverTimeout)
                .build();
    }

    static Protos.Resource scalar(String name, double value) {
        return Protos.Resource.newBuilder().setName(name).setType(Protos.Value.Type.SCALAR)
                .setScalar(Protos.Value.Scalar.newBuilder().setValue(value)).build();
    }

    static Protos.TaskInfo task(String id, Protos.Offer offer, String command) {
        return Protos.TaskInfo.newBuilder()
                .setName(id)
                .setTaskId(Protos.TaskID.newBuilder().setValue(id))
                .setSlaveId(offer.getSlaveId())
                .addResources(scalar("cpus", 0.1))
                .addResources(scalar("mem", 32))
                .setCommand(Protos.CommandInfo.newBuilder().setValue(command))
                .build();
    }

    @SuppressWarnings("unchecked")
    static Protos.Offer firstOffer(Recorder recorder) throws InterruptedException {
        return ((List<Protos.Offer>) recorder.await("resourceOffers").arg(0)).get(0);
    }

    @Test
    void launchReconcileKillAndStatusCodes() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-basics", 0), cluster.master(), false);
            assertEquals(Protos.Status.DRIVER_RUNNING, driver.start());
            Protos.FrameworkID id = (Protos.FrameworkID) recorder.await("registered").arg(0);
            assertTrue(id.getValue().length() > 0);
            Protos.Offer offer = firstOffer(recorder);
            driver.launchTasks(List.of(offer.getId()), List.of(task("sleeper", offer, "sleep 600")));
            driver.acknowledgeStatusUpdate(recorder.awaitState("sleeper", Protos.TaskState.TASK_STARTING));
            Protos.TaskStatus running = recorder.awaitState("sleeper", Protos.TaskState.TASK_RUNNING);
            assertEquals(offer.getSlaveId(), running.getSlaveId());
            driver.acknowledgeStatusUpdate(running);
            recorder.clear();
            driver.reconcileTasks(List.of(Protos.TaskStatus.newBuilder()
                    .setTaskId(running.getTaskId()).setState(Protos.TaskState.TASK_RUNNING).build()));
            Protos.TaskStatus reconciled = recorder.awaitState("sleeper", Protos.TaskState.TASK_RUNNING);
            assertEquals(Protos.TaskStatus.Reason.REASON_RECONCILIATION, reconciled.getReason());
            driver.killTask(running.getTaskId());
            driver.acknowledgeStatusUpdate(recorder.awaitState("sleeper", Protos.TaskState.TASK_KILLED));
            assertEquals(Protos.Status.DRIVER_RUNNING, driver.requestResources(List.of()));
            assertEquals(Protos.Status.DRIVER_STOPPED, driver.stop());
            assertEquals(Protos.Status.DRIVER_STOPPED, driver.join());
        }
    }

    @Test
    void aMasterThatIsDownAtStartIsFoundWhenItComesUp() throws Exception {
        try (LocalCluster cluster = LocalCluster.onPort(LocalCluster.freePort())) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-patient", 0), cluster.master());
            assertEquals(Protos.Status.DRIVER_RUNNING, driver.start());
            cluster.startMaster();
            recorder.await("registered");
            driver.stop();
            driver.join();
        }
    }

    @Test
    void aRestartedMasterIsReregisteredWith() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-survivor", 3600), cluster.master());
            driver.start();
            recorder.await("registered");
            cluster.restartMaster();
            recorder.await("disconnected");
            recorder.await("reregistered");
            driver.stop();
            driver.join();
        }
    }

    @Test
    void anExceptionInACallbackIsReportedAndTheDriverGoesOn() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder() {
                private boolean thrown;

                @Override
                public void resourceOffers(org.apache.mesos.SchedulerDriver d, List<Protos.Offer> offers) {
                    super.resourceOffers(d, offers);
                    if (!thrown) {
                        thrown = true;
                        throw new IllegalStateException("boom in resourceOffers");
                    }
                }
            };
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-clumsy", 0), cluster.master());
            driver.start();
            String message = (String) recorder.await("error").arg(0);
            assertTrue(message.contains("boom in resourceOffers"), message);
            // The driver still works: give the offer back and get it again.
            Protos.Offer offer = firstOffer(recorder);
            recorder.clear();
            driver.declineOffer(offer.getId(), Protos.Filters.newBuilder().setRefuseSeconds(0).build());
            recorder.await("resourceOffers");
            assertEquals(Protos.Status.DRIVER_STOPPED, driver.stop());
            driver.join();
        }
    }

    @Test
    void stopWithFailoverThenANewDriverTakesOverTheTasks() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder first = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(first, framework("java-phoenix", 3600), cluster.master());
            driver.start();
            Protos.FrameworkID id = (Protos.FrameworkID) first.await("registered").arg(0);
            Protos.Offer offer = firstOffer(first);
            driver.launchTasks(List.of(offer.getId()), List.of(task("kept", offer, "sleep 600")));
            first.awaitState("kept", Protos.TaskState.TASK_RUNNING);
            assertEquals(Protos.Status.DRIVER_STOPPED, driver.stop(true));
            driver.join();

            Recorder second = new Recorder();
            Protos.FrameworkInfo again = framework("java-phoenix", 3600).toBuilder().setId(id).build();
            MesosSchedulerDriver successor = new MesosSchedulerDriver(second, again, cluster.master());
            successor.start();
            second.await("subscribed again", e -> e.name().equals("registered") || e.name().equals("reregistered"));
            successor.reconcileTasks(List.of());
            second.awaitState("kept", Protos.TaskState.TASK_RUNNING);
            successor.stop();
            successor.join();
        }
    }
}
