package dev.meseta.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.SchedulerDriver;
import org.junit.jupiter.api.Test;

/**
 * updateFramework and the suppressedRoles constructor: the master sees the
 * new FrameworkInfo, and a suppressed role gets no offers until it leaves
 * the suppressed set.
 */
class UpdateFrameworkTest {
    private static final Pattern ALLOCATION_RUNS =
            Pattern.compile("\"allocator/mesos/allocation_runs\"\\s*:\\s*([0-9.]+)");

    /** Counts offers; everything else is recorded as usual. */
    static final class OfferCounter extends Recorder {
        final AtomicInteger offers = new AtomicInteger();

        @Override
        public void resourceOffers(SchedulerDriver d, List<Protos.Offer> offers) {
            this.offers.addAndGet(offers.size());
            super.resourceOffers(d, offers);
        }
    }

    static String get(LocalCluster cluster, String path) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://" + cluster.master() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), path + ": " + response.body());
        return response.body();
    }

    static long allocationRuns(LocalCluster cluster) throws Exception {
        Matcher matcher = ALLOCATION_RUNS.matcher(get(cluster, "/metrics/snapshot"));
        assertTrue(matcher.find(), "allocator/mesos/allocation_runs is missing from /metrics/snapshot");
        return (long) Double.parseDouble(matcher.group(1));
    }

    /** Lets the master run a few allocation cycles (it runs one every 100 ms). */
    static void awaitAllocationCycles(LocalCluster cluster, int cycles) throws Exception {
        long start = allocationRuns(cluster);
        LocalCluster.waitFor(cycles + " allocation cycles", () -> {
            try {
                return allocationRuns(cluster) >= start + cycles;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
    }

    @Test
    void updateFrameworkRenamesAndItsSuppressedRolesStopAndResumeOffers() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            OfferCounter recorder = new OfferCounter();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(
                    recorder, SchedulerDriverTest.framework("java-before", 0), cluster.master());
            driver.start();
            Protos.FrameworkID id = (Protos.FrameworkID) recorder.await("registered").arg(0);
            Protos.Offer offer = SchedulerDriverTest.firstOffer(recorder);
            Protos.FrameworkInfo renamed = SchedulerDriverTest.framework("java-after", 0).toBuilder()
                    .setId(id).build();

            assertEquals(Protos.Status.DRIVER_RUNNING, driver.updateFramework(renamed, List.of("*")));
            LocalCluster.waitFor("the new name in /master/frameworks", () -> {
                try {
                    return get(cluster, "/master/frameworks").contains("\"java-after\"");
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            // Suppressed: the declined resources stay away while the master allocates.
            driver.declineOffer(offer.getId(), Protos.Filters.newBuilder().setRefuseSeconds(0).build());
            int offersBefore = recorder.offers.get();
            awaitAllocationCycles(cluster, 5);
            assertEquals(offersBefore, recorder.offers.get(), "offers to a suppressed role");

            recorder.clear();
            assertEquals(Protos.Status.DRIVER_RUNNING, driver.updateFramework(renamed, List.of()));
            Protos.Offer again = SchedulerDriverTest.firstOffer(recorder);
            assertEquals(offer.getSlaveId(), again.getSlaveId());
            driver.stop();
            driver.join();
        }
    }

    @Test
    void aDriverBuiltWithSuppressedRolesGetsOffersOnlyOnceItUnsuppressesThem() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            OfferCounter recorder = new OfferCounter();
            Protos.FrameworkInfo framework = SchedulerDriverTest.framework("java-suppressed", 0);
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework, List.of("*"), cluster.master(), true);
            driver.start();
            Protos.FrameworkID id = (Protos.FrameworkID) recorder.await("registered").arg(0);
            awaitAllocationCycles(cluster, 5);
            assertEquals(0, recorder.offers.get(), "offers to a role suppressed at subscription");

            driver.updateFramework(framework.toBuilder().setId(id).build(), List.of());
            SchedulerDriverTest.firstOffer(recorder);
            driver.stop();
            driver.join();
        }
    }

    @Test
    void aForbiddenChangeIsReportedThroughErrorAndTheFrameworkStaysAsItWas() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(
                    recorder, SchedulerDriverTest.framework("java-steady", 0), cluster.master());
            driver.start();
            Protos.FrameworkID id = (Protos.FrameworkID) recorder.await("registered").arg(0);
            Protos.FrameworkInfo otherUser = SchedulerDriverTest.framework("java-renamed", 0).toBuilder()
                    .setId(id).setUser("somebody-else").build();
            driver.updateFramework(otherUser, List.of());
            String message = (String) recorder.await("error").arg(0);
            assertTrue(message.contains("user"), message);
            String frameworks = get(cluster, "/master/frameworks");
            assertTrue(frameworks.contains("\"java-steady\"") && !frameworks.contains("java-renamed"),
                    frameworks);
            driver.stop();
            driver.join();
        }
    }
}
