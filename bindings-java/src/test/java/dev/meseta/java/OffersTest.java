package dev.meseta.java;

import static dev.meseta.java.Recorder.QUIET;
import static dev.meseta.java.SchedulerDriverTest.firstOffer;
import static dev.meseta.java.SchedulerDriverTest.framework;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Protos.Status;
import org.junit.jupiter.api.Test;

/**
 * Declining, suppressing and reviving offers, on a one-agent cluster: the
 * framework holds the only offer until it gives it back, so whether and when
 * the agent's resources come back says what the call did.
 */
class OffersTest {
    static Protos.FrameworkInfo withRoles(Protos.FrameworkInfo framework, String... roles) {
        return framework.toBuilder()
                .addAllRoles(List.of(roles))
                .addCapabilities(Protos.FrameworkInfo.Capability.newBuilder()
                        .setType(Protos.FrameworkInfo.Capability.Type.MULTI_ROLE))
                .build();
    }

    static Protos.Filters refuse(double seconds) {
        return Protos.Filters.newBuilder().setRefuseSeconds(seconds).build();
    }

    static String role(Protos.Offer offer) {
        return offer.getResources(0).getAllocationInfo().getRole();
    }

    static boolean isOffer(Recorder.Event event) {
        return event.name().equals("resourceOffers");
    }

    @Test
    void declineWithRefuseSecondsKeepsTheResourcesAwayUntilReviveOffers() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-decliner", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            recorder.clear();
            assertEquals(Status.DRIVER_RUNNING, driver.declineOffer(offer.getId(), refuse(3600)));
            cluster.waitForMetric("master/messages_decline_offers", 1);
            recorder.assertNone("an offer within the hour refused", OffersTest::isOffer, QUIET);

            assertEquals(Status.DRIVER_RUNNING, driver.reviveOffers());
            Protos.Offer again = firstOffer(recorder);
            assertEquals(offer.getSlaveId(), again.getSlaveId());
            assertNotEquals(offer.getId(), again.getId(), "a new offer");
            assertEquals(offer.getResourcesList(), again.getResourcesList());
            driver.stop();
            driver.join();
        }
    }

    @Test
    void declineWithoutFiltersRefusesTheResourcesForTheDefaultFiveSeconds() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-default-decliner", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            recorder.clear();
            long declined = System.nanoTime();
            assertEquals(Status.DRIVER_RUNNING, driver.declineOffer(offer.getId()));
            Recorder.Event again = recorder.await("the resources offered again", OffersTest::isOffer);
            Duration after = Duration.ofNanos(again.nanos() - declined);
            // Filters' refuse_seconds defaults to 5; a decline without any
            // filter would see them again within an allocation cycle (0.1 s).
            assertTrue(after.compareTo(Duration.ofMillis(4500)) >= 0, "offered again after " + after);
            assertEquals(offer.getSlaveId(), again.offers().get(0).getSlaveId());
            driver.stop();
            driver.join();
        }
    }

    @Test
    void suppressOffersStopsOffersUntilReviveOffers() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver =
                    new MesosSchedulerDriver(recorder, framework("java-suppressor", 0), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            recorder.clear();
            assertEquals(Status.DRIVER_RUNNING, driver.suppressOffers());
            // Without a filter: only the suppression keeps the resources away.
            driver.declineOffer(offer.getId(), refuse(0));
            cluster.waitForMetric("master/messages_decline_offers", 1);
            recorder.assertNone("an offer while suppressed", OffersTest::isOffer, QUIET);

            assertEquals(Status.DRIVER_RUNNING, driver.reviveOffers());
            assertEquals(offer.getSlaveId(), firstOffer(recorder).getSlaveId());
            driver.stop();
            driver.join();
        }
    }

    @Test
    void suppressOffersAndReviveOffersForTheFrameworksRole() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(
                    recorder, withRoles(framework("java-role-suppressor", 0), "java-role"), cluster.master());
            driver.start();
            Protos.Offer offer = firstOffer(recorder);
            assertEquals("java-role", role(offer));
            recorder.clear();
            assertEquals(Status.DRIVER_RUNNING, driver.suppressOffers(List.of("java-role")));
            driver.declineOffer(offer.getId(), refuse(0));
            cluster.waitForMetric("master/messages_decline_offers", 1);
            recorder.assertNone("an offer to the suppressed role", OffersTest::isOffer, QUIET);

            assertEquals(Status.DRIVER_RUNNING, driver.reviveOffers(List.of("java-role")));
            Protos.Offer again = firstOffer(recorder);
            assertEquals("java-role", role(again));
            assertEquals(offer.getSlaveId(), again.getSlaveId());
            driver.stop();
            driver.join();
        }
    }

    @Test
    void suppressingOneRoleKeepsOffersComingForTheOthers() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder,
                    withRoles(framework("java-two-roles", 0), "java-busy", "java-idle"), cluster.master());
            driver.start();
            Protos.Offer offer = recorder.awaitOffer("a first offer, to either role", o -> true);
            recorder.clear();
            assertEquals(Status.DRIVER_RUNNING, driver.suppressOffers(List.of("java-idle")));
            driver.declineOffer(offer.getId(), refuse(0));
            Recorder.Event again = recorder.await("an offer to java-busy",
                    e -> e.offers().stream().anyMatch(o -> role(o).equals("java-busy")), Duration.ofSeconds(10));
            assertEquals(offer.getSlaveId(), again.offers().get(0).getSlaveId());
            recorder.assertNone("an offer to the suppressed java-idle",
                    e -> e.offers().stream().anyMatch(o -> role(o).equals("java-idle")), QUIET);
            driver.stop();
            driver.join();
        }
    }

    @Test
    void revivingOneRoleLeavesTheOthersSuppressed() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder,
                    withRoles(framework("java-two-roles", 0), "java-busy", "java-idle"), cluster.master());
            driver.start();
            Protos.Offer offer = recorder.awaitOffer("a first offer, to either role", o -> true);
            driver.suppressOffers();
            recorder.clear();
            driver.declineOffer(offer.getId(), refuse(0));
            assertEquals(Status.DRIVER_RUNNING, driver.reviveOffers(List.of("java-idle")));
            recorder.await("an offer to the revived java-idle",
                    e -> e.offers().stream().anyMatch(o -> role(o).equals("java-idle")), Duration.ofSeconds(10));
            recorder.assertNone("an offer to java-busy, which was not revived",
                    e -> e.offers().stream().anyMatch(o -> role(o).equals("java-busy")), QUIET);
            driver.stop();
            driver.join();
        }
    }
}
