package dev.meseta.java;

import static dev.meseta.java.LaunchTest.launch;
import static dev.meseta.java.SchedulerDriverTest.task;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.apache.mesos.MesosSchedulerDriver;
import org.apache.mesos.Protos;
import org.apache.mesos.Protos.Status;
import org.junit.jupiter.api.Test;

/**
 * RESERVE and CREATE through acceptOffers: one call reserves disk for the
 * framework's role, makes a persistent volume of it and launches a task
 * that writes there; a later offer brings the volume back with the data.
 */
class ReservationTest {
    private static final String ROLE = "ml";
    private static final String PRINCIPAL = "java-principal";

    static Protos.Resource reservedDisk(double mb, boolean volume) {
        Protos.Resource.Builder disk = SchedulerDriverTest.scalar("disk", mb).toBuilder()
                .addReservations(Protos.Resource.ReservationInfo.newBuilder()
                        .setType(Protos.Resource.ReservationInfo.Type.DYNAMIC)
                        .setRole(ROLE)
                        .setPrincipal(PRINCIPAL));
        if (volume) {
            disk.setDisk(Protos.Resource.DiskInfo.newBuilder()
                    .setPersistence(Protos.Resource.DiskInfo.Persistence.newBuilder()
                            .setId("java-volume").setPrincipal(PRINCIPAL))
                    .setVolume(Protos.Volume.newBuilder()
                            .setContainerPath("data").setMode(Protos.Volume.Mode.RW)));
        }
        return disk.build();
    }

    static boolean hasVolume(Protos.Offer offer) {
        return offer.getResourcesList().stream()
                .anyMatch(r -> r.getDisk().getPersistence().getId().equals("java-volume"));
    }

    static Protos.TaskInfo withVolume(String id, Protos.Offer offer, String command) {
        return task(id, offer, command).toBuilder().addResources(reservedDisk(64, true)).build();
    }

    @Test
    @SuppressWarnings("unchecked")
    void reserveCreateAndLaunchInOneAcceptThenReadTheVolumeAgain() throws Exception {
        try (LocalCluster cluster = new LocalCluster(1)) {
            Recorder recorder = new Recorder();
            Protos.FrameworkInfo framework = SchedulerDriverTest.framework("java-volumes", 0).toBuilder()
                    .setRole(ROLE)
                    .setPrincipal(PRINCIPAL)
                    .addCapabilities(Protos.FrameworkInfo.Capability.newBuilder()
                            .setType(Protos.FrameworkInfo.Capability.Type.RESERVATION_REFINEMENT))
                    .build();
            MesosSchedulerDriver driver = new MesosSchedulerDriver(recorder, framework, cluster.master());
            driver.start();
            Protos.Offer offer = SchedulerDriverTest.firstOffer(recorder);
            Protos.Offer.Operation reserve = Protos.Offer.Operation.newBuilder()
                    .setType(Protos.Offer.Operation.Type.RESERVE)
                    .setReserve(Protos.Offer.Operation.Reserve.newBuilder().addResources(reservedDisk(64, false)))
                    .build();
            Protos.Offer.Operation create = Protos.Offer.Operation.newBuilder()
                    .setType(Protos.Offer.Operation.Type.CREATE)
                    .setCreate(Protos.Offer.Operation.Create.newBuilder().addVolumes(reservedDisk(64, true)))
                    .build();
            recorder.clear();
            assertEquals(Status.DRIVER_RUNNING, driver.acceptOffers(List.of(offer.getId()),
                    List.of(reserve, create, launch(withVolume("writer", offer, "echo kept > data/file"))),
                    OffersTest.refuse(0.1)));
            recorder.awaitState("writer", Protos.TaskState.TASK_FINISHED);

            Protos.Offer again = ((List<Protos.Offer>) recorder.await("an offer with the volume",
                    e -> e.name().equals("resourceOffers")
                            && ((List<Protos.Offer>) e.arg(0)).stream().anyMatch(ReservationTest::hasVolume))
                    .arg(0)).stream().filter(ReservationTest::hasVolume).findFirst().orElseThrow();
            driver.launchTasks(List.of(again.getId()),
                    List.of(withVolume("reader", again, "grep -q kept data/file")));
            recorder.awaitState("reader", Protos.TaskState.TASK_FINISHED);
            driver.stop();
            driver.join();
        }
    }
}
