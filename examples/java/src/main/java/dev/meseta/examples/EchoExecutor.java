package dev.meseta.examples;

import java.nio.charset.StandardCharsets;

import org.apache.mesos.Executor;
import org.apache.mesos.ExecutorDriver;
import org.apache.mesos.MesosExecutorDriver;
import org.apache.mesos.Protos;

/**
 * An executor written against the org.apache.mesos Java API: runs each task
 * until the scheduler sends "done", echoing every other framework message.
 * The agent starts it with {@code java -cp ... dev.meseta.examples.EchoExecutor}.
 */
public final class EchoExecutor implements Executor {
    private Protos.TaskID task;

    @Override
    public void registered(ExecutorDriver driver, Protos.ExecutorInfo executor,
                           Protos.FrameworkInfo framework, Protos.SlaveInfo agent) {
        System.out.println("executor registered on " + agent.getHostname());
    }

    @Override
    public void reregistered(ExecutorDriver driver, Protos.SlaveInfo agent) {}

    @Override
    public void disconnected(ExecutorDriver driver) {}

    @Override
    public synchronized void launchTask(ExecutorDriver driver, Protos.TaskInfo task) {
        this.task = task.getTaskId();
        driver.sendStatusUpdate(Protos.TaskStatus.newBuilder()
                .setTaskId(task.getTaskId())
                .setState(Protos.TaskState.TASK_RUNNING)
                .build());
    }

    @Override
    public synchronized void killTask(ExecutorDriver driver, Protos.TaskID taskId) {
        driver.sendStatusUpdate(Protos.TaskStatus.newBuilder()
                .setTaskId(taskId)
                .setState(Protos.TaskState.TASK_KILLED)
                .build());
    }

    @Override
    public synchronized void frameworkMessage(ExecutorDriver driver, byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        if (text.equals("done") && task != null) {
            driver.sendStatusUpdate(Protos.TaskStatus.newBuilder()
                    .setTaskId(task)
                    .setState(Protos.TaskState.TASK_FINISHED)
                    .setMessage("echoed everything")
                    .build());
            return;
        }
        driver.sendFrameworkMessage(("echo " + text).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void shutdown(ExecutorDriver driver) {
        driver.stop();
    }

    @Override
    public void error(ExecutorDriver driver, String message) {
        System.err.println("executor error: " + message);
    }

    public static void main(String[] args) {
        MesosExecutorDriver driver = new MesosExecutorDriver(new EchoExecutor());
        Protos.Status status = driver.run();
        System.exit(status == Protos.Status.DRIVER_STOPPED ? 0 : 1);
    }
}
