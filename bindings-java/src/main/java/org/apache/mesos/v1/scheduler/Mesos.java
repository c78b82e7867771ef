package org.apache.mesos.v1.scheduler;

import org.apache.mesos.v1.scheduler.Protos.Call;

/**
 * A connection to the leading master over the v1 scheduler API, as seen by
 * a {@link Scheduler}: it sends calls and asks for a new connection.
 */
public interface Mesos {
    /** Sends a call to the master; SUBSCRIBE opens the event stream. */
    void send(Call call);

    /** Drops the connection and finds the master again. */
    void reconnect();
}
