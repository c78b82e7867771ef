package dev.meseta.java;

import static dev.meseta.java.OffersTest.refuse;
import static dev.meseta.java.Recorder.QUIET;
import static dev.meseta.java.SchedulerDriverTest.firstOffer;
import static dev.meseta.java.SchedulerDriverTest.framework;
import static dev.meseta.java.SchedulerDriverTest.task;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Protos.Status;
import org.junit.jupiter.api.Test;

/**
 * The launchTasks overloads not covered by SchedulerDriverTest, and
 * acceptOffers with several operations in one call.
 */
class LaunchTest {
    static double scalar(Protos.Offer offer, String name) {
        return offer.getResourcesList().stream().filter(r -> r.getName().equals(name))
                .mapToDouble(r -> r.getScalar().getValue()).sum();
    }

    static Protos.Offer.Operation launch(Protos.TaskInfo... tasks) {
        return Protos.Offer.Operation.newBuilder()
                .setType(Protos.Offer.Operation.Type.LAUNCH)
                .setLaunch(Protos.Offer.Operation.Launch.newBuilder().addAllTaskInfos(List.of(tasks)))
                .build();
    }

    @Test
    void launchTasksWithOneOfferIdAndNoFiltersRunsTheTasks() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-single-offer", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            assertEquals(Status.DRIVER_RUNNING, driver.launchTasks(offer.getId(),
                    List.of(task("one", offer, "true"), task("two", offer, "exit 2"))));
            Protos.TaskStatus one = recorder.awaitState("one", Protos.TaskState.TASK_FINISHED);
            assertEquals(offer.getSlaveId(), one.getSlaveId());
            Protos.TaskStatus two = recorder.awaitState("two", Protos.TaskState.TASK_FAILED);
            assertEquals(offer.getSlaveId(), two.getSlaveId());
            driver.stop();
            driver.join();
        }
    }

    @Test
    void launchTasksWithFiltersRefusesWhatTheTasksLeaveOfTheOffer() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-filtered-launch", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            recorder.clear();
            assertEquals(Status.DRIVER_RUNNING, driver.launchTasks(List.of(offer.getId()),
                    List.of(task("holder", offer, "sleep 600")), refuse(3600)));
            recorder.awaitState("holder", Protos.TaskState.TASK_RUNNING);
            recorder.assertNone("the rest of the offer within the hour refused", OffersTest::isOffer, QUIET);

            driver.reviveOffers();
            Protos.Offer rest = recorder.await("the rest of the offer", OffersTest::isOffer).offers().get(0);
            assertEquals(offer.getSlaveId(), rest.getSlaveId());
            // The task holds what it asked for (0.1 cpus, 32 MB).
            assertEquals(scalar(offer, "cpus") - 0.1, scalar(rest, "cpus"), 1e-9);
            assertEquals(scalar(offer, "mem") - 32, scalar(rest, "mem"), 1e-9);
            driver.killTask(Protos.TaskID.newBuilder().setValue("holder").build());
            recorder.awaitState("holder", Protos.TaskState.TASK_KILLED);
            driver.stop();
            driver.join();
        }
    }

    @Test
    void acceptOffersRunsTwoLaunchesAndATaskGroupFromOneOffer() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-operations", 0), cluster.master());
            driver.start();
            Protos.FrameworkID frameworkId = (Protos.FrameworkID) recorder.await("registered").arg(0);
            Protos.Offer offer = firstOffer(recorder);
            Protos.ExecutorInfo pod = Protos.ExecutorInfo.newBuilder()
                    .setType(Protos.ExecutorInfo.Type.DEFAULT)
                    .setExecutorId(Protos.ExecutorID.newBuilder().setValue("pod"))
                    .setFrameworkId(frameworkId)
                    .addResources(SchedulerDriverTest.scalar("cpus", 0.1))
                    .addResources(SchedulerDriverTest.scalar("mem", 32))
                    .build();
            Protos.Offer.Operation group = Protos.Offer.Operation.newBuilder()
                    .setType(Protos.Offer.Operation.Type.LAUNCH_GROUP)
                    .setLaunchGroup(Protos.Offer.Operation.LaunchGroup.newBuilder()
                            .setExecutor(pod)
                            .setTaskGroup(Protos.TaskGroupInfo.newBuilder()
                                    .addTasks(task("web", offer, "true"))
                                    .addTasks(task("sidecar", offer, "true"))))
                    .build();
            List<Protos.Offer.Operation> operations = List.of(
                    launch(task("first", offer, "true")), group, launch(task("last", offer, "true")));
            recorder.clear();
            assertEquals(Status.DRIVER_RUNNING,
                    driver.acceptOffers(List.of(offer.getId()), operations, refuse(3600)));
            for (String id : List.of("first", "last")) {
                Protos.TaskStatus finished = recorder.awaitState(id, Protos.TaskState.TASK_FINISHED);
                assertEquals(offer.getSlaveId(), finished.getSlaveId());
            }
            for (String id : List.of("web", "sidecar")) {
                Protos.TaskStatus finished = recorder.awaitState(id, Protos.TaskState.TASK_FINISHED);
                assertEquals(pod.getExecutorId(), finished.getExecutorId(), id + " ran in the group's executor");
            }
            driver.stop();
            driver.join();
        }
    }
}
