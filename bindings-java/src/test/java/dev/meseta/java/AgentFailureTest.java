package dev.meseta.java;

import static dev.meseta.java.SchedulerDriverTest.firstOffer;
import static dev.meseta.java.SchedulerDriverTest.framework;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.junit.jupiter.api.Test;

/** What a scheduler is told when an agent dies or an executor ends: offerRescinded, slaveLost, executorLost. */
class AgentFailureTest {
    /** The exit code in a wait status, as executorLost reports it (WEXITSTATUS). */
    static int exitCode(int waitStatus) {
        assertEquals(0, waitStatus & 0x7f, "ended by signal " + (waitStatus & 0x7f));
        return (waitStatus >> 8) & 0xff;
    }

    @Test
    void aKilledAgentsOfferIsRescindedAndTheAgentIsReportedLost() throws Exception {
        try (LocalCluster cluster = new LocalCluster(2, LocalCluster.FAST_AGENT_TIMEOUTS, List.of())) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-bereaved", 0), cluster.master());
            driver.start();
            Map<Protos.SlaveID, Protos.Offer> held = new HashMap<>();
            recorder.await("offers from both agents", e -> {
                e.offers().forEach(offer -> held.put(offer.getSlaveId(), offer));
                return held.size() == 2;
            });
            Protos.SlaveID victim = Protos.SlaveID.newBuilder().setValue(cluster.agentId(1)).build();
            Protos.SlaveID survivor = Protos.SlaveID.newBuilder().setValue(cluster.agentId(0)).build();
            cluster.killAgent(1);

            Protos.OfferID rescinded = (Protos.OfferID) recorder.await("offerRescinded").arg(0);
            assertEquals(held.get(victim).getId(), rescinded);
            Protos.SlaveID lost = (Protos.SlaveID) recorder.await("slaveLost").arg(0);
            assertEquals(victim, lost);
            // Only the dead agent is concerned.
            Protos.OfferID kept = held.get(survivor).getId();
            assertTrue(recorder.events().stream().noneMatch(e ->
                    (e.name().equals("offerRescinded") && e.arg(0).equals(kept))
                            || (e.name().equals("slaveLost") && e.arg(0).equals(survivor))),
                    recorder.events().toString());
            cluster.waitForActiveAgents(1);
            driver.stop();
            driver.join();
        }
    }

    @Test
    void anExecutorThatExitsWithAnErrorIsReportedLostWithItsWaitStatusAndItsTaskFails() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-doomed-executor", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            Protos.ExecutorInfo crashing = Protos.ExecutorInfo.newBuilder()
                    .setExecutorId(Protos.ExecutorID.newBuilder().setValue("crashing"))
                    .setCommand(Protos.CommandInfo.newBuilder().setValue("exit 3"))
                    .addResources(SchedulerDriverTest.scalar("cpus", 0.1))
                    .addResources(SchedulerDriverTest.scalar("mem", 32))
                    .build();
            Protos.TaskInfo task = SchedulerDriverTest.task("orphan", offer, "unused").toBuilder()
                    .clearCommand().setExecutor(crashing).build();
            driver.launchTasks(List.of(offer.getId()), List.of(task));

            Recorder.Event lost = recorder.await("executorLost");
            assertEquals(crashing.getExecutorId(), lost.arg(0));
            assertEquals(offer.getSlaveId(), lost.arg(1));
            assertEquals(3, exitCode((Integer) lost.arg(2)));
            Protos.TaskStatus failed = recorder.awaitState("orphan", Protos.TaskState.TASK_FAILED);
            assertEquals(Protos.TaskStatus.Reason.REASON_EXECUTOR_TERMINATED, failed.getReason());
            driver.stop();
            driver.join();
        }
    }
}
