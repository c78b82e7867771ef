package org.apache.mesos;

import org.apache.mesos.Protos.Status;
import org.apache.mesos.Protos.TaskStatus;

/**
 * The {@link ExecutorDriver} backed by Meseta's native library. It finds
 * its agent through the environment the agent sets for executors
 * ({@code MESOS_AGENT_ENDPOINT}, {@code MESOS_FRAMEWORK_ID}, ...).
 *
 * <p>The private fields below are read by the native library by name; they
 * match the official jar's, so one {@code libmesos.so} serves both jars.
 */
public class MesosExecutorDriver implements ExecutorDriver {
    static {
        MesosNativeLibrary.load();
    }

    private final Executor executor;

    // Native state: pointers owned by the library, released by finalize().
    private long __executor;
    private long __driver;

    public MesosExecutorDriver(Executor executor) {
        if (executor == null) {
            throw new NullPointerException("MesosExecutorDriver: 'executor' must not be null");
        }
        this.executor = executor;
        initialize();
    }

    @Override
    public native Status start();

    @Override
    public native Status stop();

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
    public native Status sendStatusUpdate(TaskStatus status);

    @Override
    public native Status sendFrameworkMessage(byte[] data);

    protected native void initialize();

    @Override
    @SuppressWarnings({"deprecation", "removal"})
    protected native void finalize();
}
