package dev.meseta.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;

/**
 * Launches N shell tasks through the org.apache.mesos Java API and waits for
 * them to finish. Runs unchanged on Apache Mesos's libmesos and on Meseta's.
 *
 * <pre>java -cp mesos.jar:protobuf-java.jar:. dev.meseta.examples.LaunchCommands 127.0.0.1:5050 5</pre>
 */
public final class LaunchCommands implements Scheduler {
    private final int total;
    private int launched;
    private final CountDownLatch ended;
    private final List<String> outcomes = new ArrayList<>();

    LaunchCommands(int total) {
        this.total = total;
        this.ended = new CountDownLatch(total);
    }

    private static Protos.Resource scalar(String name, double value) {
        return Protos.Resource.newBuilder()
                .setName(name)
                .setType(Protos.Value.Type.SCALAR)
                .setScalar(Protos.Value.Scalar.newBuilder().setValue(value))
                .build();
    }

    @Override
    public void registered(SchedulerDriver driver, Protos.FrameworkID id, Protos.MasterInfo master) {
        System.out.println("registered " + id.getValue());
    }

    @Override
    public void reregistered(SchedulerDriver driver, Protos.MasterInfo master) {}

    @Override
    public synchronized void resourceOffers(SchedulerDriver driver, List<Protos.Offer> offers) {
        for (Protos.Offer offer : offers) {
            List<Protos.TaskInfo> tasks = new ArrayList<>();
            while (launched < total && tasks.size() < 8) {
                String id = "java-task-" + launched++;
                tasks.add(Protos.TaskInfo.newBuilder()
                        .setName(id)
                        .setTaskId(Protos.TaskID.newBuilder().setValue(id))
                        .setSlaveId(offer.getSlaveId())
                        .addResources(scalar("cpus", 0.1))
                        .addResources(scalar("mem", 32))
                        .setCommand(Protos.CommandInfo.newBuilder().setValue("echo hello from " + id))
                        .build());
            }
            if (tasks.isEmpty()) {
                driver.declineOffer(offer.getId(),
                        Protos.Filters.newBuilder().setRefuseSeconds(60).build());
            } else {
                driver.launchTasks(List.of(offer.getId()), tasks);
            }
        }
    }

    @Override
    public void offerRescinded(SchedulerDriver driver, Protos.OfferID offerId) {}

    @Override
    public synchronized void statusUpdate(SchedulerDriver driver, Protos.TaskStatus status) {
        System.out.println(status.getTaskId().getValue() + " " + status.getState());
        switch (status.getState()) {
            case TASK_FINISHED: case TASK_FAILED: case TASK_KILLED: case TASK_LOST: case TASK_ERROR:
                outcomes.add(status.getState().toString());
                ended.countDown();
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
        int total = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        LaunchCommands scheduler = new LaunchCommands(total);
        Protos.FrameworkInfo framework = Protos.FrameworkInfo.newBuilder()
                .setUser("")
                .setName("launch-commands (java)")
                .build();
        MesosSchedulerDriver driver = new MesosSchedulerDriver(scheduler, framework, master);
        driver.start();
        boolean done = scheduler.ended.await(120, TimeUnit.SECONDS);
        driver.stop();
        driver.join();
        long finished = scheduler.outcomes.stream().filter("TASK_FINISHED"::equals).count();
        System.out.println("TASK_FINISHED=" + finished);
        System.exit(done && finished == total ? 0 : 1);
    }
}
