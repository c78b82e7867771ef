package org.apache.mesos.v1.scheduler;

import org.apache.mesos.v1.scheduler.Protos.Event;

/**
 * A framework speaking the v1 scheduler API through {@link V1Mesos}: it
 * subscribes on {@link #connected} and handles every event itself.
 * Callbacks come one at a time, in order, on a thread of the library.
 */
public interface Scheduler {
    /** A leading master was found: send SUBSCRIBE. */
    void connected(Mesos mesos);

    /** The connection was lost; {@link #connected} follows when it is back. */
    void disconnected(Mesos mesos);

    /** One event from the master. */
    void received(Mesos mesos, Event event);
}
