package org.apache.mesos.v1.scheduler;

import org.apache.mesos.MesosNativeLibrary;
import org.apache.mesos.v1.Protos.Credential;
import org.apache.mesos.v1.scheduler.Protos.Call;

/**
 * The v1 scheduler library over Meseta's native client: finds the leading
 * master (`host:port` or `zk://...`), keeps the connection, and hands every
 * event to the {@link Scheduler}.
 */
public class V1Mesos implements Mesos {
    static {
        MesosNativeLibrary.load();
    }

    private final Scheduler scheduler;
    private final String master;
    private final Credential credential;

    // The native library's state, released by finalize().
    private long __mesos;

    public V1Mesos(Scheduler scheduler, String master) {
        this(scheduler, master, null);
    }

    public V1Mesos(Scheduler scheduler, String master, Credential credential) {
        this.scheduler = scheduler;
        this.master = master;
        this.credential = credential;
        initialize();
    }

    @Override
    public native void send(Call call);

    @Override
    public native void reconnect();

    protected native void initialize();

    @Override
    protected native void finalize();
}
