package dev.meseta.examples;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;

/**
 * A framework whose task runs {@link EchoExecutor} (a Java executor the agent
 * starts with this same classpath): it sends three messages, expects three
 * echoes, then tells the executor to finish the task. Offers are taken with
 * {@code acceptOffers} and a LAUNCH operation.
 *
 * <pre>java -cp CLASSPATH dev.meseta.examples.EchoFramework MASTER</pre>
 */
public final class EchoFramework implements Scheduler {
    private static final int ROUNDS = 3;
    private boolean launched;
    private int echoes;
    private Protos.TaskState last;
    private final CountDownLatch done = new CountDownLatch(1);

    private static Protos.Resource scalar(String name, double value) {
        return Protos.Resource.newBuilder().setName(name).setType(Protos.Value.Type.SCALAR)
                .setScalar(Protos.Value.Scalar.newBuilder().setValue(value)).build();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void registered(SchedulerDriver d, Protos.FrameworkID id, Protos.MasterInfo m) {}

    @Override
    public void reregistered(SchedulerDriver d, Protos.MasterInfo m) {}

    @Override
    public synchronized void resourceOffers(SchedulerDriver driver, List<Protos.Offer> offers) {
        for (Protos.Offer offer : offers) {
            if (launched) {
                driver.declineOffer(offer.getId());
                continue;
            }
            launched = true;
            // Absolute: the executor runs in its sandbox, not in our directory.
            String classpath = java.util.Arrays.stream(
                            System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                    .map(entry -> new java.io.File(entry).getAbsolutePath())
                    .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
            String java = System.getProperty("java.home") + "/bin/java";
            Protos.CommandInfo.Builder command = Protos.CommandInfo.newBuilder()
                    .setValue(java + " -cp " + classpath + " dev.meseta.examples.EchoExecutor");
            String library = System.getenv("MESOS_NATIVE_JAVA_LIBRARY");
            if (library != null) {
                command.setEnvironment(Protos.Environment.newBuilder().addVariables(
                        Protos.Environment.Variable.newBuilder()
                                .setName("MESOS_NATIVE_JAVA_LIBRARY").setValue(library)));
            }
            Protos.ExecutorInfo executor = Protos.ExecutorInfo.newBuilder()
                    .setExecutorId(Protos.ExecutorID.newBuilder().setValue("echo"))
                    .setCommand(command)
                    .addResources(scalar("cpus", 0.1))
                    .addResources(scalar("mem", 128))
                    .build();
            Protos.TaskInfo task = Protos.TaskInfo.newBuilder()
                    .setName("echo")
                    .setTaskId(Protos.TaskID.newBuilder().setValue("echo"))
                    .setSlaveId(offer.getSlaveId())
                    .setExecutor(executor)
                    .addResources(scalar("cpus", 0.1))
                    .addResources(scalar("mem", 32))
                    .build();
            Protos.Offer.Operation launch = Protos.Offer.Operation.newBuilder()
                    .setType(Protos.Offer.Operation.Type.LAUNCH)
                    .setLaunch(Protos.Offer.Operation.Launch.newBuilder().addTaskInfos(task))
                    .build();
            driver.acceptOffers(List.of(offer.getId()), List.of(launch),
                    Protos.Filters.newBuilder().setRefuseSeconds(1).build());
        }
    }

    @Override
    public void offerRescinded(SchedulerDriver d, Protos.OfferID o) {}

    @Override
    public synchronized void statusUpdate(SchedulerDriver driver, Protos.TaskStatus status) {
        System.out.println("task " + status.getTaskId().getValue() + " " + status.getState());
        if (status.getState() == Protos.TaskState.TASK_RUNNING) {
            driver.sendFrameworkMessage(status.getExecutorId(), status.getSlaveId(), bytes("hello 1"));
        } else if (status.getState() != Protos.TaskState.TASK_STARTING) {
            last = status.getState();
            done.countDown();
        }
    }

    @Override
    public synchronized void frameworkMessage(SchedulerDriver driver, Protos.ExecutorID executor,
                                              Protos.SlaveID agent, byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        System.out.println("executor says: " + text);
        echoes++;
        String next = echoes < ROUNDS ? "hello " + (echoes + 1) : "done";
        driver.sendFrameworkMessage(executor, agent, bytes(next));
    }

    @Override
    public void disconnected(SchedulerDriver d) {}

    @Override
    public void slaveLost(SchedulerDriver d, Protos.SlaveID s) {}

    @Override
    public void executorLost(SchedulerDriver d, Protos.ExecutorID e, Protos.SlaveID s, int status) {}

    @Override
    public void error(SchedulerDriver driver, String message) {
        System.err.println("error: " + message);
        done.countDown();
    }

    public static void main(String[] args) throws Exception {
        EchoFramework scheduler = new EchoFramework();
        Protos.FrameworkInfo framework = Protos.FrameworkInfo.newBuilder()
                .setUser("").setName("echo (java)").build();
        MesosSchedulerDriver driver = new MesosSchedulerDriver(scheduler, framework,
                args.length > 0 ? args[0] : "127.0.0.1:5050");
        driver.start();
        scheduler.done.await(120, TimeUnit.SECONDS);
        driver.stop();
        driver.join();
        System.out.println("echoes=" + scheduler.echoes + " final=" + scheduler.last);
        System.exit(scheduler.echoes == ROUNDS && scheduler.last == Protos.TaskState.TASK_FINISHED ? 0 : 1);
    }
}
