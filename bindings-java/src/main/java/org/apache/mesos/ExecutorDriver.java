package org.apache.mesos;

import org.apache.mesos.Protos.Status;
import org.apache.mesos.Protos.TaskStatus;

/**
 * An executor's handle on its agent. Every method returns at once with the
 * driver's status: {@code DRIVER_RUNNING} when the request was queued,
 * otherwise the status that prevented it.
 */
public interface ExecutorDriver {
    /** Connects to the agent and starts delivering callbacks. */
    Status start();

    /** Stops the driver; the executor's tasks are the agent's to clean up. */
    Status stop();

    /** Stops delivering callbacks without telling the agent; {@link #join} returns. */
    Status abort();

    /** Blocks until the driver is stopped or aborted. */
    Status join();

    /** {@link #start} then {@link #join}. */
    Status run();

    /** Reports a task's state; the agent retries its delivery until the scheduler acknowledges it. */
    Status sendStatusUpdate(TaskStatus status);

    /** Sends bytes to the scheduler. Delivery is best-effort. */
    Status sendFrameworkMessage(byte[] data);
}
