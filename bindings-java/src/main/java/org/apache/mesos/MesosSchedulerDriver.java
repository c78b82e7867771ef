package org.apache.mesos;

import java.util.Collection;
import java.util.Collections;

import org.apache.mesos.Protos.Credential;
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
 * The {@link SchedulerDriver} backed by Meseta's native library (the Rust
 * client core). {@code master} is {@code host:port}, {@code zk://...} or
 * {@code file://...}, as with Mesos.
 *
 * <p>The private fields below are read by the native library by name; they
 * match the official jar's, so one {@code libmesos.so} serves both jars.
 */
public class MesosSchedulerDriver implements SchedulerDriver {
    static {
        MesosNativeLibrary.load();
    }

    private final Scheduler scheduler;
    private final FrameworkInfo framework;
    private final Collection<String> suppressedRoles;
    private final String master;
    private final boolean implicitAcknowledgements;
    private final Credential credential;

    // Native state: pointers owned by the library, released by finalize().
    private long __scheduler;
    private long __driver;

    public MesosSchedulerDriver(Scheduler scheduler, FrameworkInfo framework, String master) {
        this(scheduler, framework, Collections.emptyList(), master, true, null);
    }

    public MesosSchedulerDriver(
            Scheduler scheduler, FrameworkInfo framework, String master, Credential credential) {
        this(scheduler, framework, Collections.emptyList(), master, true, credential);
    }

    public MesosSchedulerDriver(
            Scheduler scheduler, FrameworkInfo framework, String master, boolean implicitAcknowledgements) {
        this(scheduler, framework, Collections.emptyList(), master, implicitAcknowledgements, null);
    }

    public MesosSchedulerDriver(
            Scheduler scheduler,
            FrameworkInfo framework,
            String master,
            boolean implicitAcknowledgements,
            Credential credential) {
        this(scheduler, framework, Collections.emptyList(), master, implicitAcknowledgements, credential);
    }

    public MesosSchedulerDriver(
            Scheduler scheduler,
            FrameworkInfo framework,
            Collection<String> suppressedRoles,
            String master,
            boolean implicitAcknowledgements) {
        this(scheduler, framework, suppressedRoles, master, implicitAcknowledgements, null);
    }

    /**
     * The general constructor: the framework subscribes with
     * {@code suppressedRoles} already suppressed; {@code credential} may be
     * null.
     */
    public MesosSchedulerDriver(
            Scheduler scheduler,
            FrameworkInfo framework,
            Collection<String> suppressedRoles,
            String master,
            boolean implicitAcknowledgements,
            Credential credential) {
        this.scheduler = requireArgument(scheduler, "scheduler");
        this.framework = requireArgument(framework, "framework");
        this.suppressedRoles = requireArgument(suppressedRoles, "suppressedRoles");
        this.master = requireArgument(master, "master");
        this.implicitAcknowledgements = implicitAcknowledgements;
        this.credential = credential;
        initialize();
    }

    private static <T> T requireArgument(T value, String name) {
        if (value == null) {
            throw new NullPointerException("MesosSchedulerDriver: '" + name + "' must not be null");
        }
        return value;
    }

    @Override
    public native Status start();

    @Override
    public native Status stop(boolean failover);

    @Override
    public Status stop() {
        return stop(false);
    }

    @Override
    public native Status abort();

    @Override
    public native Status join();

    @Override
    public Status run() {
        Status status = start();
        return status == Status.DRIVER_RUNNING ? join() : status;
    }

    @Override
    public native Status requestResources(Collection<Request> requests);

    @Override
    public Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks) {
        return launchTasks(offerId, tasks, Filters.getDefaultInstance());
    }

    @Override
    public native Status launchTasks(OfferID offerId, Collection<TaskInfo> tasks, Filters filters);

    @Override
    public Status launchTasks(Collection<OfferID> offerIds, Collection<TaskInfo> tasks) {
        return launchTasks(offerIds, tasks, Filters.getDefaultInstance());
    }

    @Override
    public native Status launchTasks(
            Collection<OfferID> offerIds, Collection<TaskInfo> tasks, Filters filters);

    @Override
    public native Status killTask(TaskID taskId);

    @Override
    public native Status acceptOffers(
            Collection<OfferID> offerIds, Collection<Offer.Operation> operations, Filters filters);

    @Override
    public Status declineOffer(OfferID offerId) {
        return declineOffer(offerId, Filters.getDefaultInstance());
    }

    @Override
    public native Status declineOffer(OfferID offerId, Filters filters);

    @Override
    public native Status reviveOffers();

    @Override
    public native Status reviveOffers(Collection<String> roles);

    @Override
    public native Status suppressOffers();

    @Override
    public native Status suppressOffers(Collection<String> roles);

    @Override
    public native Status acknowledgeStatusUpdate(TaskStatus status);

    @Override
    public native Status sendFrameworkMessage(ExecutorID executorId, SlaveID slaveId, byte[] data);

    @Override
    public native Status reconcileTasks(Collection<TaskStatus> statuses);

    @Override
    public native Status updateFramework(FrameworkInfo frameworkInfo, Collection<String> suppressedRoles);

    @Override
    public Status updateFramework(
            FrameworkInfo frameworkInfo,
            Collection<String> suppressedRoles,
            OfferConstraints offerConstraints) {
        return updateFrameworkWithConstraints(frameworkInfo, suppressedRoles, offerConstraints);
    }

    private native Status updateFrameworkWithConstraints(
            FrameworkInfo frameworkInfo,
            Collection<String> suppressedRoles,
            OfferConstraints offerConstraints);

    protected native void initialize();

    @Override
    @SuppressWarnings({"deprecation", "removal"})
    protected native void finalize();
}
