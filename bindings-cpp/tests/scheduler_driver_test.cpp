// The scheduler driver against a real master and agent: registration,
// launching, acknowledging, reconciling and killing, a master that comes up
// late or restarts, exceptions thrown by callbacks, and a failover.
#include <gtest/gtest.h>

#include <algorithm>
#include <mesos/scheduler.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "recorder.hpp"

namespace meseta_test {
namespace {

using mesos::DRIVER_RUNNING;
using mesos::DRIVER_STOPPED;

// Acknowledges task `id`'s TASK_STARTING and TASK_RUNNING (the driver
// acknowledges explicitly), then waits for the answer to a later call: calls
// go in order, so the acknowledgements are in (an update lost in a failover
// would hold the task's next ones back until the agent resends it, 10 s on).
void acknowledgeUntilRunning(mesos::SchedulerDriver& driver, Recorder& recorder,
                             const std::string& id) {
  EXPECT_EQ(DRIVER_RUNNING,
            driver.acknowledgeStatusUpdate(recorder.awaitState(id, mesos::TASK_STARTING)));
  EXPECT_EQ(DRIVER_RUNNING,
            driver.acknowledgeStatusUpdate(recorder.awaitState(id, mesos::TASK_RUNNING)));
  mesos::TaskStatus query;
  query.mutable_task_id()->set_value(id);
  query.set_state(mesos::TASK_RUNNING);
  EXPECT_EQ(DRIVER_RUNNING, driver.reconcileTasks({query}));
  recorder.await("the reconciliation of " + id, [&](const Event& e) {
    return e.isState(id, mesos::TASK_RUNNING) &&
           e.status.reason() == mesos::TaskStatus::REASON_RECONCILIATION;
  });
}

TEST(SchedulerDriver, LaunchAcknowledgeReconcileKillAndStatusCodes) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-basics"), cluster.master(), false);
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID id = recorder.awaitRegistered();
  EXPECT_FALSE(id.value().empty());
  mesos::MasterInfo master = recorder.events().front().masterInfo;
  EXPECT_EQ(cluster.master(), master.hostname() + ":" + std::to_string(master.port()));
  mesos::Offer offer = recorder.firstOffer();
  EXPECT_EQ(id.value(), offer.framework_id().value());
  EXPECT_DOUBLE_EQ(2, scalarSum(offer, "cpus"));
  EXPECT_DOUBLE_EQ(1024, scalarSum(offer, "mem"));

  ASSERT_EQ(DRIVER_RUNNING, driver.launchTasks(std::vector<mesos::OfferID>{offer.id()},
                                               {task("sleeper", offer, "sleep 600")}));
  mesos::TaskStatus starting = recorder.awaitState("sleeper", mesos::TASK_STARTING);
  EXPECT_EQ(DRIVER_RUNNING, driver.acknowledgeStatusUpdate(starting));
  mesos::TaskStatus running = recorder.awaitState("sleeper", mesos::TASK_RUNNING);
  EXPECT_EQ(offer.slave_id().value(), running.slave_id().value());
  EXPECT_EQ(DRIVER_RUNNING, driver.acknowledgeStatusUpdate(running));

  // Explicit reconciliation: the task named, in the state the scheduler
  // believes it is in.
  recorder.clear();
  mesos::TaskStatus believed;
  believed.mutable_task_id()->set_value("sleeper");
  believed.set_state(mesos::TASK_RUNNING);
  EXPECT_EQ(DRIVER_RUNNING, driver.reconcileTasks({believed}));
  mesos::TaskStatus reconciled = recorder.awaitState("sleeper", mesos::TASK_RUNNING);
  EXPECT_EQ(mesos::TaskStatus::REASON_RECONCILIATION, reconciled.reason());
  EXPECT_EQ(offer.slave_id().value(), reconciled.slave_id().value());

  // Implicit reconciliation: an empty list asks for every task.
  recorder.clear();
  EXPECT_EQ(DRIVER_RUNNING, driver.reconcileTasks({}));
  EXPECT_EQ(mesos::TaskStatus::REASON_RECONCILIATION,
            recorder.awaitState("sleeper", mesos::TASK_RUNNING).reason());

  EXPECT_EQ(DRIVER_RUNNING, driver.killTask(taskId("sleeper")));
  mesos::TaskStatus killed = recorder.awaitState("sleeper", mesos::TASK_KILLED);
  EXPECT_EQ(DRIVER_RUNNING, driver.acknowledgeStatusUpdate(killed));

  mesos::Request request;
  *request.add_resources() = scalar("cpus", 1);
  EXPECT_EQ(DRIVER_RUNNING, driver.requestResources({request}));
  EXPECT_EQ(DRIVER_RUNNING, driver.requestResources({}));
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
  EXPECT_FALSE(recorder.has([](const Event& e) { return e.name == "error"; }))
      << recorder.describe();
}

TEST(SchedulerDriver, AMasterThatIsDownAtStartIsFoundWhenItComesUp) {
  LocalCluster cluster = LocalCluster::onPort(freePort());
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-patient"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  cluster.startMaster();
  recorder.awaitRegistered();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(SchedulerDriver, ARestartedMasterIsDisconnectedFromThenReregisteredWith) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-survivor", 3600), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID id = recorder.awaitRegistered();
  mesos::Offer before = recorder.firstOffer();

  cluster.restartMaster();
  Event disconnected = recorder.await("disconnected");
  Event reregistered = recorder.await("reregistered");
  EXPECT_LE(disconnected.when, reregistered.when);
  EXPECT_EQ(cluster.master(), reregistered.masterInfo.hostname() + ":" +
                                  std::to_string(reregistered.masterInfo.port()));
  EXPECT_FALSE(recorder.has([](const Event& e) { return e.name == "error"; }))
      << recorder.describe();
  std::vector<Event> events = recorder.events();
  EXPECT_EQ(1, std::count_if(events.begin(), events.end(),
                             [](const Event& e) { return e.name == "registered"; }))
      << "registered once only: " << recorder.describe();

  // The same framework goes on: the agent comes back, and its resources are
  // offered to it again (maybe right after reregistered).
  mesos::Offer offer = recorder.awaitOffer(
      "an offer from the restarted master",
      [&](const mesos::Offer& o) { return o.id().value() != before.id().value(); });
  EXPECT_EQ(id.value(), offer.framework_id().value());
  EXPECT_EQ(before.slave_id().value(), offer.slave_id().value());
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

// Throws from the first two resourceOffers: a std::exception, then
// something else.
class ClumsyScheduler : public Recorder {
 public:
  void resourceOffers(mesos::SchedulerDriver* driver,
                      const std::vector<mesos::Offer>& offers) override {
    Recorder::resourceOffers(driver, offers);
    if (++calls_ == 1) throw std::runtime_error("boom in resourceOffers");
    if (calls_ == 2) throw 42;
  }

 private:
  int calls_ = 0;
};

TEST(SchedulerDriver, AnExceptionInACallbackIsReportedThroughErrorAndTheDriverGoesOn) {
  LocalCluster cluster(1);
  ClumsyScheduler scheduler;
  mesos::MesosSchedulerDriver driver(&scheduler, framework("cpp-clumsy"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  std::string message = scheduler.await("error").data;
  EXPECT_NE(std::string::npos, message.find("Scheduler::resourceOffers")) << message;
  EXPECT_NE(std::string::npos, message.find("boom in resourceOffers")) << message;

  // The driver still works: give the offer back and get it again (the
  // second time, the callback throws something that is no std::exception).
  mesos::Offer offer = scheduler.firstOffer();
  scheduler.clear();
  EXPECT_EQ(DRIVER_RUNNING, driver.declineOffer(offer.id(), refuse(0)));
  message = scheduler.await("error").data;
  EXPECT_NE(std::string::npos, message.find("not a std::exception")) << message;

  offer = scheduler.firstOffer();
  scheduler.clear();
  EXPECT_EQ(DRIVER_RUNNING, driver.declineOffer(offer.id(), refuse(0)));
  scheduler.firstOffer();
  EXPECT_FALSE(scheduler.has([](const Event& e) { return e.name == "error"; }))
      << "the third offer went through: " << scheduler.describe();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(SchedulerDriver, StopWithFailoverThenANewDriverTakesOverTheTasks) {
  LocalCluster cluster(1);
  Recorder first;
  mesos::FrameworkID id;
  {
    mesos::MesosSchedulerDriver driver(&first, framework("cpp-phoenix", 3600), cluster.master(),
                                       false);
    ASSERT_EQ(DRIVER_RUNNING, driver.start());
    id = first.awaitRegistered();
    mesos::Offer offer = first.firstOffer();
    driver.launchTasks(offer.id(), {task("kept", offer, "sleep 600")});
    acknowledgeUntilRunning(driver, first, "kept");
    EXPECT_EQ(DRIVER_STOPPED, driver.stop(true));
    EXPECT_EQ(DRIVER_STOPPED, driver.join());
  }
  // Kept for its failover timeout: disconnected, not torn down.
  cluster.waitForMetric("master/frameworks_disconnected", 1);

  Recorder second;
  mesos::FrameworkInfo again = framework("cpp-phoenix", 3600);
  again.mutable_id()->CopyFrom(id);
  mesos::MesosSchedulerDriver successor(&second, again, cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, successor.start());
  Event subscribed = second.await("subscribed again", [](const Event& e) {
    return e.name == "registered" || e.name == "reregistered";
  });
  if (subscribed.name == "registered") {
    EXPECT_EQ(id.value(), subscribed.frameworkId.value());
  }
  EXPECT_EQ(DRIVER_RUNNING, successor.reconcileTasks({}));
  second.awaitState("kept", mesos::TASK_RUNNING);
  EXPECT_EQ(DRIVER_RUNNING, successor.killTask(taskId("kept")));
  second.awaitState("kept", mesos::TASK_KILLED);
  EXPECT_EQ(DRIVER_STOPPED, successor.stop());
  EXPECT_EQ(DRIVER_STOPPED, successor.join());
  cluster.waitForMetric("master/frameworks_disconnected", 0);
}

TEST(SchedulerDriver, ADriverTakingTheFrameworkOverAbortsTheOtherThroughError) {
  LocalCluster cluster(1);
  Recorder first;
  mesos::MesosSchedulerDriver driver(&first, framework("cpp-usurped", 3600), cluster.master(),
                                     false);
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID id = first.awaitRegistered();
  mesos::Offer offer = first.firstOffer();
  driver.launchTasks(offer.id(), {task("kept", offer, "sleep 600")});
  acknowledgeUntilRunning(driver, first, "kept");

  Recorder second;
  mesos::FrameworkInfo again = framework("cpp-usurped", 3600);
  again.mutable_id()->CopyFrom(id);
  mesos::MesosSchedulerDriver successor(&second, again, cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, successor.start());
  second.await("subscribed again",
               [](const Event& e) { return e.name == "registered" || e.name == "reregistered"; });

  // The first driver is told, and aborted before it is.
  first.await("error(\"Framework failed over\")", [](const Event& e) {
    return e.name == "error" && e.data.find("failed over") != std::string::npos;
  });
  EXPECT_EQ(mesos::DRIVER_ABORTED, driver.join());
  EXPECT_EQ(mesos::DRIVER_ABORTED, driver.killTask(taskId("kept")));
  // Stopping it (failover = false) does not tear the framework down from
  // under its new driver.
  EXPECT_EQ(mesos::DRIVER_ABORTED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(1, cluster.metric("master/frameworks_connected"));
  EXPECT_EQ(DRIVER_RUNNING, successor.reconcileTasks({}));
  second.awaitState("kept", mesos::TASK_RUNNING);
  EXPECT_EQ(DRIVER_RUNNING, successor.killTask(taskId("kept")));
  second.awaitState("kept", mesos::TASK_KILLED);
  EXPECT_FALSE(first.has([](const Event& e) { return e.isState("kept", mesos::TASK_KILLED); }))
      << "callbacks after the abort: " << first.describe();
  EXPECT_EQ(DRIVER_STOPPED, successor.stop());
  EXPECT_EQ(DRIVER_STOPPED, successor.join());
}

}  // namespace
}  // namespace meseta_test
