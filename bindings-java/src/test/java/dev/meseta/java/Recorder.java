package dev.meseta.java;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import org.apache.mesos.Protos;
import org.apache.mesos.Scheduler;
import org.apache.mesos.SchedulerDriver;

/** A scheduler that records every callback; tests wait on what they expect. */
class Recorder implements Scheduler {
    /** How long "nothing happens" is watched for: 15 allocation cycles of the test master. */
    static final Duration QUIET = Duration.ofMillis(1500);

    /** One callback: its name and arguments (the driver left out), and when it came (System.nanoTime). */
    record Event(String name, List<Object> args, long nanos) {
        Event(String name, List<Object> args) {
            this(name, args, System.nanoTime());
        }

        Object arg(int index) {
            return args.get(index);
        }

        @SuppressWarnings("unchecked")
        List<Protos.Offer> offers() {
            return name.equals("resourceOffers") ? (List<Protos.Offer>) args.get(0) : List.of();
        }
    }

    private final List<Event> events = new ArrayList<>();

    synchronized void add(String name, Object... args) {
        events.add(new Event(name, List.of(args)));
        notifyAll();
    }

    /** The first event `accept` takes, waiting up to the deadline. */
    Event await(String what, Predicate<Event> accept) throws InterruptedException {
        return await(what, accept, LocalCluster.DEADLINE);
    }

    /** The first event `accept` takes, waiting up to `deadline`. */
    synchronized Event await(String what, Predicate<Event> accept, Duration deadline) throws InterruptedException {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            for (Event event : events) {
                if (accept.test(event)) {
                    return event;
                }
            }
            long left = end - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("timed out waiting for " + what + "; events: " + events);
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    Event await(String name) throws InterruptedException {
        return await(name, e -> e.name().equals(name));
    }

    Protos.TaskStatus awaitState(String taskId, Protos.TaskState state) throws InterruptedException {
        return (Protos.TaskStatus) await(taskId + " " + state, e -> e.name().equals("statusUpdate")
                && ((Protos.TaskStatus) e.arg(0)).getTaskId().getValue().equals(taskId)
                && ((Protos.TaskStatus) e.arg(0)).getState() == state).arg(0);
    }

    /** The first offer `accept` takes, from any resourceOffers callback, waiting up to the deadline. */
    Protos.Offer awaitOffer(String what, Predicate<Protos.Offer> accept) throws InterruptedException {
        Event event = await(what, e -> e.offers().stream().anyMatch(accept));
        return event.offers().stream().filter(accept).findFirst().orElseThrow();
    }

    /**
     * Fails if an event `reject` takes is recorded, or comes within `during`
     * (the only way to check that something does not happen).
     */
    synchronized void assertNone(String what, Predicate<Event> reject, Duration during) throws InterruptedException {
        long end = System.nanoTime() + during.toNanos();
        while (true) {
            for (Event event : events) {
                if (reject.test(event)) {
                    throw new AssertionError("unexpected " + what + ": " + event + "; events: " + events);
                }
            }
            long left = end - System.nanoTime();
            if (left <= 0) {
                return;
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /** The events recorded so far. */
    synchronized List<Event> events() {
        return List.copyOf(events);
    }

    synchronized void clear() {
        events.clear();
    }

    @Override
    public void registered(SchedulerDriver d, Protos.FrameworkID id, Protos.MasterInfo master) {
        add("registered", id, master);
    }

    @Override
    public void reregistered(SchedulerDriver d, Protos.MasterInfo master) {
        add("reregistered", master);
    }

    @Override
    public void resourceOffers(SchedulerDriver d, List<Protos.Offer> offers) {
        add("resourceOffers", offers);
    }

    @Override
    public void offerRescinded(SchedulerDriver d, Protos.OfferID id) {
        add("offerRescinded", id);
    }

    @Override
    public void statusUpdate(SchedulerDriver d, Protos.TaskStatus status) {
        add("statusUpdate", status);
    }

    @Override
    public void frameworkMessage(SchedulerDriver d, Protos.ExecutorID e, Protos.SlaveID s, byte[] data) {
        add("frameworkMessage", e, s, data);
    }

    @Override
    public void disconnected(SchedulerDriver d) {
        add("disconnected");
    }

    @Override
    public void slaveLost(SchedulerDriver d, Protos.SlaveID id) {
        add("slaveLost", id);
    }

    @Override
    public void executorLost(SchedulerDriver d, Protos.ExecutorID e, Protos.SlaveID s, int status) {
        add("executorLost", e, s, status);
    }

    @Override
    public void error(SchedulerDriver d, String message) {
        add("error", message);
    }
}
