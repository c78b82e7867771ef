package dev.meseta.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;

/**
 * Uses {@code acceptOffers} with several operations in one call: on each of
 * N agents it launches, from a single offer, a standalone command task
 * (LAUNCH), a "pod" of two tasks that share the default executor
 * (LAUNCH_GROUP), and a second command task (LAUNCH). What the operations
 * leave of the offer is declined for a minute by the call's filters. Exits 0
 * when every task finished.
 *
 * <pre>java -cp mesos.jar:protobuf-java.jar:. dev.meseta.examples.AcceptOperations 127.0.0.1:5050 2</pre>
 */
public final class AcceptOperations implements Scheduler {
    private static final int TASKS_PER_AGENT = 4;

    private final int agents;
    private final List<Protos.SlaveID> used = new ArrayList<>();
    private final Map<String, Protos.TaskState> finalStates = new TreeMap<>();
    private final CountDownLatch ended;
    private int acceptCalls;
    private Protos.FrameworkID frameworkId;

    AcceptOperations(int agents) {
        this.agents = agents;
        this.ended = new CountDownLatch(agents * TASKS_PER_AGENT);
    }

    private static Protos.Resource scalar(String name, double value) {
        return Protos.Resource.newBuilder()
                .setName(name)
                .setType(Protos.Value.Type.SCALAR)
                .setScalar(Protos.Value.Scalar.newBuilder().setValue(value))
                .build();
    }

    private static Protos.TaskInfo.Builder task(String id, Protos.Offer offer, String command) {
        return Protos.TaskInfo.newBuilder()
                .setName(id)
                .setTaskId(Protos.TaskID.newBuilder().setValue(id))
                .setSlaveId(offer.getSlaveId())
                .addResources(scalar("cpus", 0.1))
                .addResources(scalar("mem", 32))
                .setCommand(Protos.CommandInfo.newBuilder().setValue(command));
    }

    private static Protos.Offer.Operation launch(Protos.TaskInfo task) {
        return Protos.Offer.Operation.newBuilder()
                .setType(Protos.Offer.Operation.Type.LAUNCH)
                .setLaunch(Protos.Offer.Operation.Launch.newBuilder().addTaskInfos(task))
                .build();
    }

    /** Two tasks run side by side by the agent's default executor. */
    private Protos.Offer.Operation launchGroup(String prefix, Protos.Offer offer) {
        Protos.ExecutorInfo executor = Protos.ExecutorInfo.newBuilder()
                .setType(Protos.ExecutorInfo.Type.DEFAULT)
                .setExecutorId(Protos.ExecutorID.newBuilder().setValue(prefix + "-pod"))
                .setFrameworkId(frameworkId)
                .addResources(scalar("cpus", 0.1))
                .addResources(scalar("mem", 32))
                .build();
        Protos.TaskGroupInfo group = Protos.TaskGroupInfo.newBuilder()
                .addTasks(task(prefix + "-pod-web", offer, "echo serving; sleep 1"))
                .addTasks(task(prefix + "-pod-sidecar", offer, "echo watching; sleep 1"))
                .build();
        return Protos.Offer.Operation.newBuilder()
                .setType(Protos.Offer.Operation.Type.LAUNCH_GROUP)
                .setLaunchGroup(Protos.Offer.Operation.LaunchGroup.newBuilder()
                        .setExecutor(executor)
                        .setTaskGroup(group))
                .build();
    }

    @Override
    public synchronized void registered(SchedulerDriver driver, Protos.FrameworkID id, Protos.MasterInfo master) {
        frameworkId = id;
        System.out.println("registered " + id.getValue());
    }

    @Override
    public void reregistered(SchedulerDriver driver, Protos.MasterInfo master) {}

    @Override
    public synchronized void resourceOffers(SchedulerDriver driver, List<Protos.Offer> offers) {
        Protos.Filters leftoverFilter = Protos.Filters.newBuilder().setRefuseSeconds(60).build();
        for (Protos.Offer offer : offers) {
            if (used.size() == agents || used.contains(offer.getSlaveId())) {
                driver.declineOffer(offer.getId(), leftoverFilter);
                continue;
            }
            used.add(offer.getSlaveId());
            String prefix = "agent" + used.size();
            List<Protos.Offer.Operation> operations = List.of(
                    launch(task(prefix + "-first", offer, "echo first").build()),
                    launchGroup(prefix, offer),
                    launch(task(prefix + "-last", offer, "echo last").build()));
            acceptCalls++;
            driver.acceptOffers(List.of(offer.getId()), operations, leftoverFilter);
        }
    }

    @Override
    public void offerRescinded(SchedulerDriver driver, Protos.OfferID offerId) {}

    @Override
    public synchronized void statusUpdate(SchedulerDriver driver, Protos.TaskStatus status) {
        System.out.println(status.getTaskId().getValue() + " " + status.getState()
                + (status.hasMessage() ? " (" + status.getMessage() + ")" : ""));
        switch (status.getState()) {
            case TASK_FINISHED: case TASK_FAILED: case TASK_KILLED: case TASK_LOST: case TASK_ERROR:
            case TASK_DROPPED: case TASK_GONE:
                if (finalStates.put(status.getTaskId().getValue(), status.getState()) == null) {
                    ended.countDown();
                }
                break;
            default:
                break;
        }
    }

    @Override
    public void frameworkMessage(SchedulerDriver d, Protos.ExecutorID e, Protos.SlaveID s, byte[] data) {}

    @Override
    public void disconnected(SchedulerDriver driver) {}

    @Override
    public void slaveLost(SchedulerDriver driver, Protos.SlaveID slaveId) {}

    @Override
    public void executorLost(SchedulerDriver d, Protos.ExecutorID e, Protos.SlaveID s, int status) {}

    @Override
    public void error(SchedulerDriver driver, String message) {
        System.err.println("error: " + message);
    }

    public static void main(String[] args) throws Exception {
        String master = args.length > 0 ? args[0] : "127.0.0.1:5050";
        int agents = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        AcceptOperations scheduler = new AcceptOperations(agents);
        Protos.FrameworkInfo framework = Protos.FrameworkInfo.newBuilder()
                .setUser("")
                .setName("accept-operations (java)")
                .build();
        MesosSchedulerDriver driver = new MesosSchedulerDriver(scheduler, framework, master);
        driver.start();
        boolean done = scheduler.ended.await(120, TimeUnit.SECONDS);
        driver.stop();
        driver.join();
        synchronized (scheduler) {
            long finished = scheduler.finalStates.values().stream()
                    .filter(state -> state == Protos.TaskState.TASK_FINISHED).count();
            System.out.println("accept calls=" + scheduler.acceptCalls + " tasks=" + scheduler.finalStates.size()
                    + " TASK_FINISHED=" + finished);
            System.exit(done && finished == (long) agents * TASKS_PER_AGENT ? 0 : 1);
        }
    }
}
