// What a scheduler is told when an agent dies or an executor ends:
// offerRescinded, slaveLost, executorLost.
#include <gtest/gtest.h>

#include <map>
#include <mesos/scheduler.hpp>
#include <string>

#include "cluster.hpp"
#include "recorder.hpp"

namespace meseta_test {
namespace {

using mesos::DRIVER_RUNNING;
using mesos::DRIVER_STOPPED;

TEST(AgentFailure, AKilledAgentsOfferIsRescindedAndTheAgentIsReportedLost) {
  LocalCluster cluster(LocalCluster::Options{2, LocalCluster::kFastAgentTimeouts, {}});
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-bereaved"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  std::map<std::string, mesos::Offer> held;  // by agent ID
  recorder.await("offers from both agents", [&](const Event& e) {
    for (const mesos::Offer& offer : e.offers) held[offer.slave_id().value()] = offer;
    return held.size() == 2;
  });
  std::string victim = cluster.agentId(1);
  std::string survivor = cluster.agentId(0);
  ASSERT_EQ(1u, held.count(victim));
  ASSERT_EQ(1u, held.count(survivor));
  cluster.killAgent(1);

  mesos::OfferID rescinded = recorder.await("offerRescinded").offerId;
  EXPECT_EQ(held[victim].id().value(), rescinded.value());
  mesos::SlaveID lost = recorder.await("slaveLost").slaveId;
  EXPECT_EQ(victim, lost.value());
  // Only the dead agent is concerned.
  std::string kept = held[survivor].id().value();
  EXPECT_FALSE(recorder.has([&](const Event& e) {
    return (e.name == "offerRescinded" && e.offerId.value() == kept) ||
           (e.name == "slaveLost" && e.slaveId.value() == survivor);
  })) << recorder.describe();
  cluster.waitForActiveAgents(1);
  // The survivor's offer is still good.
  EXPECT_EQ(DRIVER_RUNNING,
            driver.launchTasks(held[survivor].id(), {task("after", held[survivor], "true")}));
  recorder.awaitState("after", mesos::TASK_FINISHED);
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(AgentFailure, AnExecutorThatExitsWithAnErrorIsReportedLostWithItsWaitStatus) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-doomed-executor"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  mesos::ExecutorInfo crashing = executorInfo("crashing", "exit 3");
  ASSERT_EQ(DRIVER_RUNNING,
            driver.launchTasks(offer.id(), {executorTask("orphan", offer, crashing)}));

  Event lost = recorder.await("executorLost");
  EXPECT_EQ("crashing", lost.executorId.value());
  EXPECT_EQ(offer.slave_id().value(), lost.slaveId.value());
  EXPECT_EQ(768, lost.exitStatus) << "the wait status of `exit 3`";
  EXPECT_EQ(3, exitCode(lost.exitStatus));
  mesos::TaskStatus failed = recorder.awaitState("orphan", mesos::TASK_FAILED);
  EXPECT_EQ(mesos::TaskStatus::REASON_EXECUTOR_TERMINATED, failed.reason());
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

}  // namespace
}  // namespace meseta_test
