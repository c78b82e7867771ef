package dev.meseta.java;

import java.nio.charset.StandardCharsets;

import org.apache.mesos.Executor;
import org.apache.mesos.ExecutorDriver;
import org.apache.mesos.MesosExecutorDriver;
import org.apache.mesos.Protos;

/**
 * The executor of {@link ExecutorDriverTest}, started by the agent with the
 * test classpath: runs tasks until killed, answers "echo X" to every framework
 * message X, and tells the scheduler what it was asked to do.
 */
public final class EchoingExecutor implements Executor {
    private static void tell(ExecutorDriver driver, String text) {
        driver.sendFrameworkMessage(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void registered(ExecutorDriver driver, Protos.ExecutorInfo executor,
                           Protos.FrameworkInfo framework, Protos.SlaveInfo agent) {
        tell(driver, "registered " + executor.getExecutorId().getValue() + " " + framework.getName());
    }

    @Override
    public void reregistered(ExecutorDriver driver, Protos.SlaveInfo agent) {}

    @Override
    public void disconnected(ExecutorDriver driver) {}

    @Override
    public void launchTask(ExecutorDriver driver, Protos.TaskInfo task) {
        driver.sendStatusUpdate(Protos.TaskStatus.newBuilder()
                .setTaskId(task.getTaskId()).setState(Protos.TaskState.TASK_RUNNING).build());
    }

    @Override
    public void killTask(ExecutorDriver driver, Protos.TaskID taskId) {
        driver.sendStatusUpdate(Protos.TaskStatus.newBuilder()
                .setTaskId(taskId).setState(Protos.TaskState.TASK_KILLED).build());
    }

    @Override
    public void frameworkMessage(ExecutorDriver driver, byte[] data) {
        tell(driver, "echo " + new String(data, StandardCharsets.UTF_8));
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
        Protos.Status status = new MesosExecutorDriver(new EchoingExecutor()).run();
        System.exit(status == Protos.Status.DRIVER_STOPPED ? 0 : 1);
    }
}
