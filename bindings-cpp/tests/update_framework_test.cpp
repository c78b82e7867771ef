// updateFramework and the suppressedRoles constructor: the master sees the
// new FrameworkInfo, a suppressed role gets no offers until it leaves the
// suppressed set, and a forbidden change is reported through error().
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

TEST(UpdateFramework, RenamesAndItsSuppressedRolesStopAndResumeOffers) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-before"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID id = recorder.awaitRegistered();
  mesos::Offer offer = recorder.firstOffer();
  mesos::FrameworkInfo renamed = framework("cpp-after");
  renamed.mutable_id()->CopyFrom(id);

  EXPECT_EQ(DRIVER_RUNNING,
            driver.updateFramework(renamed, {"*"}, mesos::scheduler::OfferConstraints()));
  waitFor("the new name in /master/frameworks", [&] {
    return cluster.get("/master/frameworks").find("\"cpp-after\"") != std::string::npos;
  });
  EXPECT_EQ(std::string::npos, cluster.get("/master/frameworks").find("\"cpp-before\""));
  // Suppressed: the declined resources stay away while the master allocates.
  recorder.clear();
  driver.declineOffer(offer.id(), refuse(0));
  cluster.waitForMetric("master/messages_decline_offers", 1);
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(0, recorder.offerCount()) << "offers to a suppressed role: " << recorder.describe();

  EXPECT_EQ(DRIVER_RUNNING,
            driver.updateFramework(renamed, {}, mesos::scheduler::OfferConstraints()));
  mesos::Offer again = recorder.firstOffer();
  EXPECT_EQ(offer.slave_id().value(), again.slave_id().value());
  EXPECT_FALSE(recorder.has([](const Event& e) { return e.name == "error"; }))
      << recorder.describe();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(UpdateFramework, ADriverBuiltWithSuppressedRolesGetsOffersOnlyOnceItUnsuppressesThem) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::FrameworkInfo info = framework("cpp-suppressed");
  mesos::MesosSchedulerDriver driver(&recorder, info, {"*"}, cluster.master(), true);
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID id = recorder.awaitRegistered();
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(0, recorder.offerCount()) << "offers to a role suppressed at subscription";

  info.mutable_id()->CopyFrom(id);
  EXPECT_EQ(DRIVER_RUNNING, driver.updateFramework(info, {}, mesos::scheduler::OfferConstraints()));
  recorder.firstOffer();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(UpdateFramework, AForbiddenChangeIsReportedThroughErrorAndTheFrameworkStaysAsItWas) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-steady"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID id = recorder.awaitRegistered();
  mesos::FrameworkInfo otherUser = framework("cpp-renamed");
  otherUser.mutable_id()->CopyFrom(id);
  otherUser.set_user("somebody-else");
  EXPECT_EQ(DRIVER_RUNNING,
            driver.updateFramework(otherUser, {}, mesos::scheduler::OfferConstraints()));
  std::string message = recorder.await("error").data;
  EXPECT_NE(std::string::npos, message.find("user")) << message;
  std::string frameworks = cluster.get("/master/frameworks");
  EXPECT_NE(std::string::npos, frameworks.find("\"cpp-steady\"")) << frameworks;
  EXPECT_EQ(std::string::npos, frameworks.find("cpp-renamed")) << frameworks;
  // The driver goes on.
  EXPECT_EQ(DRIVER_RUNNING, driver.reconcileTasks({}));
  recorder.firstOffer();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

}  // namespace
}  // namespace meseta_test
