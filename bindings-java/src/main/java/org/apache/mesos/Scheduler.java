package org.apache.mesos;

import java.util.List;

import org.apache.mesos.Protos.ExecutorID;
import org.apache.mesos.Protos.FrameworkID;
import org.apache.mesos.Protos.MasterInfo;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.OfferID;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.TaskStatus;

/**
 * What a framework's scheduler implements: the driver calls these methods,
 * one at a time, on its own thread. A method may call back into the driver.
 * An exception escaping a method is printed and reported through
 * {@link #error}; the driver keeps running.
 */
public interface Scheduler {
    /** Subscribed for the first time; {@code frameworkId} is the framework's ID from now on. */
    void registered(SchedulerDriver driver, FrameworkID frameworkId, MasterInfo masterInfo);

    /** Subscribed again (after a master failover or a lost connection), keeping the framework ID. */
    void reregistered(SchedulerDriver driver, MasterInfo masterInfo);

    /** New offers. Each stays valid until it is used, declined or rescinded. */
    void resourceOffers(SchedulerDriver driver, List<Offer> offers);

    /** An offer is no longer valid (its agent went away, or the master took it back). */
    void offerRescinded(SchedulerDriver driver, OfferID offerId);

    /**
     * A task changed state. With explicit acknowledgements the framework must
     * acknowledge the update ({@link SchedulerDriver#acknowledgeStatusUpdate})
     * or the agent sends it again.
     */
    void statusUpdate(SchedulerDriver driver, TaskStatus status);

    /** Bytes an executor sent to the scheduler. Delivery is best-effort. */
    void frameworkMessage(SchedulerDriver driver, ExecutorID executorId, SlaveID slaveId, byte[] data);

    /** The connection to the master is gone; the driver looks for a master and re-subscribes. */
    void disconnected(SchedulerDriver driver);

    /** An agent is lost (unreachable or removed); its offers are rescinded. */
    void slaveLost(SchedulerDriver driver, SlaveID slaveId);

    /** An executor ended; {@code status} is its exit status as the agent saw it. */
    void executorLost(SchedulerDriver driver, ExecutorID executorId, SlaveID slaveId, int status);

    /** A fatal error: the driver is aborted when this is called. */
    void error(SchedulerDriver driver, String message);
}
