package dev.meseta.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.apache.mesos.v1.Protos;
import org.apache.mesos.v1.scheduler.Mesos;
import org.apache.mesos.v1.scheduler.Protos.Call;
import org.apache.mesos.v1.scheduler.Protos.Event;
import org.apache.mesos.v1.scheduler.Scheduler;
import org.apache.mesos.v1.scheduler.V1Mesos;
import org.junit.jupiter.api.Test;

/**
 * The v1 scheduler library (V1Mesos): a framework that subscribes on
 * `connected`, launches a task from an offer, and receives an inverse offer
 * when an operator schedules maintenance of the task's machine.
 */
class V1SchedulerTest {
    /** Subscribes when connected; queues every event. */
    static final class Subscriber implements Scheduler {
        final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        volatile Protos.FrameworkID id;

        @Override
        public void connected(Mesos mesos) {
            Call.Subscribe.Builder subscribe = Call.Subscribe.newBuilder().setFrameworkInfo(
                    Protos.FrameworkInfo.newBuilder().setUser("").setName("java-v1"));
            Call.Builder call = Call.newBuilder().setType(Call.Type.SUBSCRIBE).setSubscribe(subscribe);
            if (id != null) {
                call.setFrameworkId(id);
                subscribe.getFrameworkInfoBuilder().setId(id);
                call.setSubscribe(subscribe);
            }
            mesos.send(call.build());
        }

        @Override
        public void disconnected(Mesos mesos) {
        }

        @Override
        public void received(Mesos mesos, Event event) {
            if (event.getType() == Event.Type.SUBSCRIBED) {
                id = event.getSubscribed().getFrameworkId();
            }
            Protos.TaskStatus status = event.getUpdate().getStatus();
            if (event.getType() == Event.Type.UPDATE && status.hasUuid()) {
                // The v1 API leaves acknowledgements to the framework; the
                // next update of a task comes once this one is acknowledged.
                mesos.send(Call.newBuilder()
                        .setFrameworkId(id)
                        .setType(Call.Type.ACKNOWLEDGE)
                        .setAcknowledge(Call.Acknowledge.newBuilder()
                                .setAgentId(status.getAgentId())
                                .setTaskId(status.getTaskId())
                                .setUuid(status.getUuid()))
                        .build());
            }
            events.add(event);
        }

        Event await(String what, Predicate<Event> accept) throws InterruptedException {
            long end = System.nanoTime() + LocalCluster.DEADLINE.toNanos();
            while (System.nanoTime() < end) {
                Event event = events.poll(100, TimeUnit.MILLISECONDS);
                if (event != null && accept.test(event)) {
                    return event;
                }
            }
            throw new AssertionError("timed out waiting for " + what);
        }
    }

    static Protos.Resource scalar(String name, double value) {
        return Protos.Resource.newBuilder().setName(name).setType(Protos.Value.Type.SCALAR)
                .setScalar(Protos.Value.Scalar.newBuilder().setValue(value)).build();
    }

    @Test
    void aV1FrameworkLaunchesAndReceivesAnInverseOfferForItsAgent() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Subscriber scheduler = new Subscriber();
            V1Mesos mesos = new V1Mesos(scheduler, cluster.master());
            scheduler.await("SUBSCRIBED", e -> e.getType() == Event.Type.SUBSCRIBED);
            assertNotNull(scheduler.id);
            Protos.Offer offer = scheduler.await("OFFERS", e -> e.getType() == Event.Type.OFFERS)
                    .getOffers().getOffers(0);

            Protos.TaskInfo task = Protos.TaskInfo.newBuilder()
                    .setName("steady")
                    .setTaskId(Protos.TaskID.newBuilder().setValue("steady"))
                    .setAgentId(offer.getAgentId())
                    .addResources(scalar("cpus", 0.1))
                    .addResources(scalar("mem", 32))
                    .setCommand(Protos.CommandInfo.newBuilder().setValue("sleep 600"))
                    .build();
            mesos.send(Call.newBuilder()
                    .setFrameworkId(scheduler.id)
                    .setType(Call.Type.ACCEPT)
                    .setAccept(Call.Accept.newBuilder()
                            .addOfferIds(offer.getId())
                            .addOperations(Protos.Offer.Operation.newBuilder()
                                    .setType(Protos.Offer.Operation.Type.LAUNCH)
                                    .setLaunch(Protos.Offer.Operation.Launch.newBuilder().addTaskInfos(task))))
                    .build());
            scheduler.await("the task running", e -> e.getType() == Event.Type.UPDATE
                    && e.getUpdate().getStatus().getState() == Protos.TaskState.TASK_RUNNING);

            String window = "{\"windows\":[{\"machine_ids\":[{\"hostname\":\"" + offer.getHostname()
                    + "\"}],\"unavailability\":{\"start\":{\"nanoseconds\":1000000000}}}]}";
            HttpResponse<String> posted = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://" + cluster.master() + "/maintenance/schedule"))
                            .POST(HttpRequest.BodyPublishers.ofString(window)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, posted.statusCode(), posted.body());
            Event inverse = scheduler.await("INVERSE_OFFERS", e -> e.getType() == Event.Type.INVERSE_OFFERS);
            assertEquals(offer.getAgentId(), inverse.getInverseOffers().getInverseOffers(0).getAgentId());

            mesos.send(Call.newBuilder().setFrameworkId(scheduler.id).setType(Call.Type.TEARDOWN).build());
        }
    }
}
