// Declining, suppressing and reviving offers, on a one-agent cluster: the
// framework holds the only offer until it gives it back, so whether and when
// the agent's resources come back says what the call did. "No offers" is
// checked over a few of the master's allocation cycles.
#include <gtest/gtest.h>

#include <chrono>
#include <mesos/scheduler.hpp>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "recorder.hpp"

namespace meseta_test {
namespace {

using mesos::DRIVER_RUNNING;
using mesos::DRIVER_STOPPED;

bool offersTo(const Event& event, const std::string& wanted) {
  for (const mesos::Offer& offer : event.offers) {
    if (role(offer) == wanted) return true;
  }
  return false;
}

TEST(Offers, DeclineWithRefuseSecondsKeepsTheResourcesAwayUntilReviveOffers) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-decliner"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  recorder.clear();
  EXPECT_EQ(DRIVER_RUNNING, driver.declineOffer(offer.id(), refuse(3600)));
  cluster.waitForMetric("master/messages_decline_offers", 1);
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(0, recorder.offerCount()) << "an offer within the hour refused";

  EXPECT_EQ(DRIVER_RUNNING, driver.reviveOffers());
  mesos::Offer again = recorder.firstOffer();
  EXPECT_EQ(offer.slave_id().value(), again.slave_id().value());
  EXPECT_NE(offer.id().value(), again.id().value()) << "a new offer";
  EXPECT_DOUBLE_EQ(scalarSum(offer, "cpus"), scalarSum(again, "cpus"));
  EXPECT_DOUBLE_EQ(scalarSum(offer, "mem"), scalarSum(again, "mem"));
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Offers, DeclineWithoutFiltersRefusesForTheDefaultFiveSecondsAndWithZeroNotAtAll) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-default-decliner"),
                                     cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  recorder.clear();
  auto declined = std::chrono::steady_clock::now();
  EXPECT_EQ(DRIVER_RUNNING, driver.declineOffer(offer.id()));
  Event again =
      recorder.await("the resources offered again", [](const Event& e) { return e.isOffers(); });
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(again.when - declined);
  // Filters' refuse_seconds defaults to 5; a decline without any filter
  // would see them again within an allocation cycle (0.1 s).
  EXPECT_GE(after.count(), 4500) << "offered again after " << after.count() << " ms";
  EXPECT_EQ(offer.slave_id().value(), again.offers.at(0).slave_id().value());

  // refuse_seconds 0: offered again at once, well before those 5 s.
  recorder.clear();
  declined = std::chrono::steady_clock::now();
  EXPECT_EQ(DRIVER_RUNNING, driver.declineOffer(again.offers.at(0).id(), refuse(0)));
  again =
      recorder.await("the resources offered again", [](const Event& e) { return e.isOffers(); });
  after = std::chrono::duration_cast<std::chrono::milliseconds>(again.when - declined);
  EXPECT_LT(after.count(), 4000) << "offered again after " << after.count() << " ms";
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Offers, SuppressOffersStopsOffersUntilReviveOffers) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-suppressor"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  recorder.clear();
  EXPECT_EQ(DRIVER_RUNNING, driver.suppressOffers());
  // Without a filter: only the suppression keeps the resources away.
  EXPECT_EQ(DRIVER_RUNNING, driver.declineOffer(offer.id(), refuse(0)));
  cluster.waitForMetric("master/messages_decline_offers", 1);
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(0, recorder.offerCount()) << "offers while suppressed: " << recorder.describe();

  EXPECT_EQ(DRIVER_RUNNING, driver.reviveOffers());
  EXPECT_EQ(offer.slave_id().value(), recorder.firstOffer().slave_id().value());
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Offers, SuppressOffersAndReviveOffersForTheFrameworksRole) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(
      &recorder, withRoles(framework("cpp-role-suppressor"), {"cpp-role"}), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  EXPECT_EQ("cpp-role", role(offer));
  recorder.clear();
  EXPECT_EQ(DRIVER_RUNNING, driver.suppressOffers({"cpp-role"}));
  driver.declineOffer(offer.id(), refuse(0));
  cluster.waitForMetric("master/messages_decline_offers", 1);
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(0, recorder.offerCount()) << "offers to the suppressed role: " << recorder.describe();

  EXPECT_EQ(DRIVER_RUNNING, driver.reviveOffers({"cpp-role"}));
  mesos::Offer again = recorder.firstOffer();
  EXPECT_EQ("cpp-role", role(again));
  EXPECT_EQ(offer.slave_id().value(), again.slave_id().value());
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

// A framework in two roles is offered resources in each; suppressing one
// leaves the other offered.
TEST(Offers, SuppressingOneRoleKeepsOffersComingForTheOther) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(
      &recorder, withRoles(framework("cpp-two-roles"), {"cpp-busy", "cpp-idle"}), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.awaitOffer("a first offer, to either role",
                                           [](const mesos::Offer&) { return true; });
  recorder.clear();
  EXPECT_EQ(DRIVER_RUNNING, driver.suppressOffers({"cpp-idle"}));
  driver.declineOffer(offer.id(), refuse(0));
  Event again = recorder.await(
      "an offer to cpp-busy", [](const Event& e) { return offersTo(e, "cpp-busy"); },
      std::chrono::seconds(10));
  EXPECT_EQ(offer.slave_id().value(), again.offers.at(0).slave_id().value());
  EXPECT_FALSE(recorder.has([](const Event& e) { return offersTo(e, "cpp-idle"); }))
      << "an offer to the suppressed cpp-idle: " << recorder.describe();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Offers, RevivingOneRoleLeavesTheOthersSuppressed) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(
      &recorder, withRoles(framework("cpp-two-roles"), {"cpp-busy", "cpp-idle"}), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.awaitOffer("a first offer, to either role",
                                           [](const mesos::Offer&) { return true; });
  EXPECT_EQ(DRIVER_RUNNING, driver.suppressOffers());
  recorder.clear();
  driver.declineOffer(offer.id(), refuse(0));
  EXPECT_EQ(DRIVER_RUNNING, driver.reviveOffers({"cpp-idle"}));
  Event idle = recorder.await("an offer to the revived cpp-idle",
                              [](const Event& e) { return offersTo(e, "cpp-idle"); });
  EXPECT_FALSE(recorder.has([](const Event& e) { return offersTo(e, "cpp-busy"); }))
      << "an offer to cpp-busy, which was not revived: " << recorder.describe();

  // Reviving the other brings its offers back.
  EXPECT_EQ(DRIVER_RUNNING, driver.suppressOffers({"cpp-idle"}));
  driver.declineOffer(idle.offers.at(0).id(), refuse(0));
  EXPECT_EQ(DRIVER_RUNNING, driver.reviveOffers({"cpp-busy"}));
  recorder.await("an offer to cpp-busy", [](const Event& e) { return offersTo(e, "cpp-busy"); });
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

}  // namespace
}  // namespace meseta_test
