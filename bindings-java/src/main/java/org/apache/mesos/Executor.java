package org.apache.mesos;

import org.apache.mesos.Protos.ExecutorInfo;
import org.apache.mesos.Protos.FrameworkInfo;
import org.apache.mesos.Protos.SlaveInfo;
import org.apache.mesos.Protos.TaskID;
import org.apache.mesos.Protos.TaskInfo;

/**
 * What an executor implements: the driver calls these methods, one at a
 * time, on its own thread. {@link #launchTask} should hand work to another
 * thread and return, since the driver delivers nothing else meanwhile.
 */
public interface Executor {
    /** Subscribed to the agent that started this executor. */
    void registered(
            ExecutorDriver driver, ExecutorInfo executorInfo, FrameworkInfo frameworkInfo, SlaveInfo slaveInfo);

    /** Subscribed again to a restarted agent. */
    void reregistered(ExecutorDriver driver, SlaveInfo slaveInfo);

    /** The connection to the agent is gone (for example, the agent is restarting). */
    void disconnected(ExecutorDriver driver);

    /** Run a task; report its states with {@link ExecutorDriver#sendStatusUpdate}. */
    void launchTask(ExecutorDriver driver, TaskInfo task);

    /** Stop a task and report a terminal state for it (usually TASK_KILLED). */
    void killTask(ExecutorDriver driver, TaskID taskId);

    /** Bytes the scheduler sent to this executor. Delivery is best-effort. */
    void frameworkMessage(ExecutorDriver driver, byte[] data);

    /** The agent asks the executor to stop all its tasks and exit. */
    void shutdown(ExecutorDriver driver);

    /** A fatal error: the driver is aborted when this is called. */
    void error(ExecutorDriver driver, String message);
}
