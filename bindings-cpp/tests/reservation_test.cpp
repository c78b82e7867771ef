// RESERVE and CREATE through acceptOffers: one call reserves disk for the
// framework's role, makes a persistent volume of it and launches a task
// that writes there; a later offer brings the volume back with the data.
#include <gtest/gtest.h>

#include <mesos/scheduler.hpp>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "recorder.hpp"

namespace meseta_test {
namespace {

using mesos::DRIVER_RUNNING;
using mesos::DRIVER_STOPPED;

const char* const kRole = "ml";
const char* const kPrincipal = "cpp-principal";

mesos::Resource reservedDisk(double mb, bool volume) {
  mesos::Resource disk = scalar("disk", mb);
  mesos::Resource::ReservationInfo* reservation = disk.add_reservations();
  reservation->set_type(mesos::Resource::ReservationInfo::DYNAMIC);
  reservation->set_role(kRole);
  reservation->set_principal(kPrincipal);
  if (volume) {
    mesos::Resource::DiskInfo* info = disk.mutable_disk();
    info->mutable_persistence()->set_id("cpp-volume");
    info->mutable_persistence()->set_principal(kPrincipal);
    info->mutable_volume()->set_container_path("data");
    info->mutable_volume()->set_mode(mesos::Volume::RW);
  }
  return disk;
}

bool hasVolume(const mesos::Offer& offer) {
  for (const mesos::Resource& r : offer.resources()) {
    if (r.disk().persistence().id() == "cpp-volume") {
      return true;
    }
  }
  return false;
}

mesos::TaskInfo withVolume(const std::string& id, const mesos::Offer& offer,
                           const std::string& command) {
  mesos::TaskInfo info = task(id, offer, command);
  *info.add_resources() = reservedDisk(64, true);
  return info;
}

TEST(Reservation, ReserveCreateAndLaunchInOneAcceptThenReadTheVolumeAgain) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::FrameworkInfo info = withRoles(framework("cpp-volumes"), {kRole});
  info.set_principal(kPrincipal);
  info.add_capabilities()->set_type(mesos::FrameworkInfo::Capability::RESERVATION_REFINEMENT);
  mesos::MesosSchedulerDriver driver(&recorder, info, cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();

  mesos::Offer::Operation reserve;
  reserve.set_type(mesos::Offer::Operation::RESERVE);
  *reserve.mutable_reserve()->add_resources() = reservedDisk(64, false);
  mesos::Offer::Operation create;
  create.set_type(mesos::Offer::Operation::CREATE);
  *create.mutable_create()->add_volumes() = reservedDisk(64, true);
  std::vector<mesos::Offer::Operation> operations = {
      reserve, create, launch({withVolume("writer", offer, "echo kept > data/file")})};
  recorder.clear();
  ASSERT_EQ(DRIVER_RUNNING, driver.acceptOffers({offer.id()}, operations, refuse(0.1)));
  recorder.awaitState("writer", mesos::TASK_FINISHED);

  mesos::Offer again = recorder.awaitOffer("an offer with the volume", hasVolume);
  ASSERT_EQ(
      DRIVER_RUNNING,
      driver.launchTasks(again.id(), {withVolume("reader", again, "grep -q kept data/file")}));
  recorder.awaitState("reader", mesos::TASK_FINISHED);
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

}  // namespace
}  // namespace meseta_test
