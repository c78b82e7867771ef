package org.apache.mesos;

import java.util.Collection;

import org.apache.mesos.Protos.ExecutorID;
import org.apache.mesos.Protos.Filters;
import org.apache.mesos.Protos.FrameworkInfo;
import org.apache.mesos.Protos.Offer;
import org.apache.mesos.Protos.OfferID;
import org.apache.mesos.Protos.Request;
import org.apache.mesos.Protos.SlaveID;
import org.apache.mesos.Protos.Status;
import org.apache.mesos.Protos.TaskID;
import org.apache.mesos.Protos.TaskInfo;
import org.apache.mesos.Protos.TaskStatus;
import org.apache.mesos.scheduler.Protos.OfferConstraints;

/**
 * A framework's handle on the master. Every method is thread-safe and
 * returns at once with the driver's status: {@code DRIVER_RUNNING} when the
 * request was queued for the master, otherwise the status that prevented it
 * (nothing is sent then).
 */
public interface SchedulerDriver {
    /** Finds the leading master, subscribes, and starts delivering callbacks. */
    Status start();

    /**
     * Stops the driver. With {@code failover} the framework stays registered
     * so that a new driver can take it over (within its failover timeout);
     * without, the master tears it down and kills its tasks.
     */
    Status stop(boolean failover);

    /** {@code stop(false)}. */
    Status stop();

    /** Stops delivering callbacks but keeps the framework registered; {@link #join} returns. */
    Status abort();

    /** Blocks until the driver is stopped or aborted. */
    Status join();

    /** {@link #start} then {@link #join}. */
    Status run();

    /** Asks the allocator for resources (a hint; the master may ignore it). */
    Status requestResources(Collection<Request> requests);

    /** Launches tasks on the resources of offers from one agent; what is left unused is declined with {@code filters}. */
    Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks, Filters filters);

    /** {@link #launchTasks(Collection, Collection, Filters)} with default filters. */
    Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks);

    /** Deprecated form taking one offer. */
    Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks, Filters filters);

    /** Deprecated form taking one offer, with default filters. */
    Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks);

    /** Asks to kill a task; its terminal state comes as a status update. */
    Status killTask(TaskID taskId);

    /** Applies operations (LAUNCH, LAUNCH_GROUP, RESERVE, CREATE, ...) to the resources of offers from one agent. */
    Status acceptOffers(Collection<OfferID> offerIds, Collection<Offer.Operation> operations, Filters filters);

    /** Gives an offer back; its resources are not offered again to this framework for {@code filters}' duration. */
    Status declineOffer(OfferID offerId, Filters filters);

    /** {@link #declineOffer(OfferID, Filters)} with default filters. */
    Status declineOffer(OfferID offerId);

    /** Clears all offer filters and resumes offers for every role of the framework. */
    Status reviveOffers();

    /** Clears offer filters and resumes offers for the given roles. */
    Status reviveOffers(Collection<String> roles);

    /** Stops offers for every role of the framework until revived. */
    Status suppressOffers();

    /** Stops offers for the given roles until revived. */
    Status suppressOffers(Collection<String> roles);

    /** Acknowledges a status update (when the driver was created with implicit acknowledgements off). */
    Status acknowledgeStatusUpdate(TaskStatus status);

    /** Sends bytes to an executor. Delivery is best-effort. */
    Status sendFrameworkMessage(ExecutorID executorId, SlaveID slaveId, byte[] data);

    /**
     * Asks the master for the latest state of the given tasks, or of all the
     * framework's tasks when {@code statuses} is empty; the answers come as
     * status updates.
     */
    Status reconcileTasks(Collection<TaskStatus> statuses);

    /**
     * Replaces the framework's info (name, roles, capabilities, failover
     * timeout, ...) and its exact set of suppressed roles, with offer
     * constraints.
     */
    Status updateFramework(FrameworkInfo frameworkInfo, Collection<String> suppressedRoles, OfferConstraints offerConstraints);

    /** {@link #updateFramework(FrameworkInfo, Collection, OfferConstraints)} without offer constraints. */
    Status updateFramework(FrameworkInfo frameworkInfo, Collection<String> suppressedRoles);
}
