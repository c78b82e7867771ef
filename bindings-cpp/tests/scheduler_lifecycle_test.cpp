// The scheduler driver's life: what every call returns when the driver is
// not running, abort, run, destruction, and the constructors' credential,
// explicit acknowledgements and suppressed roles.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <mesos/scheduler.hpp>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "recorder.hpp"

namespace meseta_test {
namespace {

using mesos::DRIVER_ABORTED;
using mesos::DRIVER_NOT_STARTED;
using mesos::DRIVER_RUNNING;
using mesos::DRIVER_STOPPED;

// Whether `future` is still blocked after `during`.
template <typename T>
bool blocks(std::future<T>& future, std::chrono::milliseconds during) {
  return future.wait_for(during) == std::future_status::timeout;
}

template <typename T>
T getWithin(std::future<T>& future, std::chrono::milliseconds deadline = kDeadline) {
  if (future.wait_for(deadline) != std::future_status::ready) {
    throw WaitTimeout("the other thread's call did not return");
  }
  return future.get();
}

// Every call but start, stop, abort, join and run must return `expected`.
void expectEveryCallReturns(mesos::Status expected, mesos::SchedulerDriver& driver,
                            const mesos::Offer& offer) {
  mesos::TaskInfo never = task("never-sent", offer, "true");
  std::vector<mesos::OfferID> ids = {offer.id()};
  mesos::TaskStatus status;
  status.mutable_task_id()->CopyFrom(never.task_id());
  status.set_state(mesos::TASK_RUNNING);
  status.mutable_slave_id()->CopyFrom(offer.slave_id());
  status.set_uuid("0123456789abcdef");
  mesos::ExecutorID executor;
  executor.set_value("nobody");
  mesos::Request request;
  *request.add_resources() = scalar("cpus", 1);

  EXPECT_EQ(expected, driver.requestResources({}));
  EXPECT_EQ(expected, driver.requestResources({request}));
  EXPECT_EQ(expected, driver.launchTasks(ids, {never}));
  EXPECT_EQ(expected, driver.launchTasks(ids, {never}, refuse(1)));
  EXPECT_EQ(expected, driver.launchTasks(offer.id(), {never}));
  EXPECT_EQ(expected, driver.launchTasks(offer.id(), {never}, refuse(1)));
  EXPECT_EQ(expected, driver.acceptOffers(ids, {launch({never})}, refuse(1)));
  EXPECT_EQ(expected, driver.acceptOffers(ids, {launch({never})}));
  EXPECT_EQ(expected, driver.declineOffer(offer.id()));
  EXPECT_EQ(expected, driver.declineOffer(offer.id(), refuse(1)));
  EXPECT_EQ(expected, driver.killTask(never.task_id()));
  EXPECT_EQ(expected, driver.reviveOffers());
  EXPECT_EQ(expected, driver.reviveOffers({"*"}));
  EXPECT_EQ(expected, driver.suppressOffers());
  EXPECT_EQ(expected, driver.suppressOffers({"*"}));
  EXPECT_EQ(expected, driver.acknowledgeStatusUpdate(status));
  EXPECT_EQ(expected, driver.sendFrameworkMessage(executor, offer.slave_id(), "lost"));
  EXPECT_EQ(expected, driver.reconcileTasks({}));
  EXPECT_EQ(expected, driver.reconcileTasks({status}));
  EXPECT_EQ(expected,
            driver.updateFramework(framework("renamed"), {}, mesos::scheduler::OfferConstraints()));
}

TEST(SchedulerLifecycle, CallsOnADriverThatWasNeverStartedReturnDriverNotStarted) {
  Recorder recorder;
  // Nobody listens there: nothing may try to connect anyway.
  std::string nowhere = "127.0.0.1:" + std::to_string(freePort());
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-idle"), nowhere, false);
  mesos::Offer offer;
  offer.mutable_id()->set_value("no-such-offer");
  offer.mutable_framework_id()->set_value("no-such-framework");
  offer.mutable_slave_id()->set_value("no-such-agent");
  offer.set_hostname("nowhere");
  {
    SCOPED_TRACE("never started");
    expectEveryCallReturns(DRIVER_NOT_STARTED, driver, offer);
  }
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.join()) << "join returns at once";
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.abort());
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.stop());
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.stop(true));
  EXPECT_EQ("[]", recorder.describe());
}

TEST(SchedulerLifecycle, CallsOnAStoppedDriverReturnDriverStoppedAndItCannotStartAgain) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-stopped"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
  {
    SCOPED_TRACE("stopped");
    expectEveryCallReturns(DRIVER_STOPPED, driver, offer);
  }
  EXPECT_EQ(DRIVER_STOPPED, driver.start());
  EXPECT_EQ(DRIVER_STOPPED, driver.run()) << "run returns at once";
  EXPECT_EQ(DRIVER_STOPPED, driver.abort());
  EXPECT_EQ(DRIVER_STOPPED, driver.stop(true));
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
  // The framework was torn down, and nothing was launched.
  cluster.waitForMetric("master/frameworks_connected", 0);
  EXPECT_EQ(0, cluster.metric("master/frameworks_disconnected"));
  EXPECT_EQ(0, cluster.metric("master/tasks_staging") + cluster.metric("master/tasks_running"));
}

TEST(SchedulerLifecycle, AbortReleasesJoinSilencesCallbacksAndKeepsTheFrameworkUntilStop) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-aborted", 3600), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  std::future<mesos::Status> joined = std::async(std::launch::async, [&] { return driver.join(); });
  EXPECT_TRUE(blocks(joined, std::chrono::milliseconds(300))) << "join waits while running";

  EXPECT_EQ(DRIVER_ABORTED, driver.abort());
  EXPECT_EQ(DRIVER_ABORTED, getWithin(joined));
  EXPECT_EQ(DRIVER_ABORTED, driver.join());
  {
    SCOPED_TRACE("aborted");
    expectEveryCallReturns(DRIVER_ABORTED, driver, offer);
  }
  EXPECT_EQ(DRIVER_ABORTED, driver.start());
  EXPECT_EQ(DRIVER_ABORTED, driver.abort());

  // The master still offers to the framework (a new agent's resources, on
  // top of the offer it holds: the decline above was not sent), but no
  // callback reaches the scheduler any more.
  recorder.clear();
  cluster.startAgent(1);
  cluster.waitForMetric("master/outstanding_offers", 2);
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ("[]", recorder.describe()) << "callbacks after abort";
  // Aborting is not tearing down: the framework is still subscribed.
  EXPECT_EQ(1, cluster.metric("master/frameworks_connected"));

  // stop() after abort says the driver was aborted, and tears it down.
  EXPECT_EQ(DRIVER_ABORTED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
  cluster.waitForMetric("master/frameworks_connected", 0);
  EXPECT_EQ(0, cluster.metric("master/frameworks_disconnected")) << "not kept for a failover";
  EXPECT_EQ(0, cluster.metric("master/outstanding_offers"));
}

TEST(SchedulerLifecycle, RunBlocksUntilAnotherThreadStopsTheDriver) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-runner"), cluster.master());
  std::future<mesos::Status> ran = std::async(std::launch::async, [&] { return driver.run(); });
  recorder.awaitRegistered();
  recorder.firstOffer();
  EXPECT_TRUE(blocks(ran, std::chrono::milliseconds(300))) << "run waits while running";
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, getWithin(ran));
  cluster.waitForMetric("master/frameworks_connected", 0);
  EXPECT_EQ(0, cluster.metric("master/frameworks_disconnected")) << "stop() tears down";
}

TEST(SchedulerLifecycle, ADriverDestroyedWhileRunningDisconnectsAndKeepsTheFramework) {
  LocalCluster cluster(1);
  Recorder recorder;
  {
    mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-dropped", 3600), cluster.master());
    ASSERT_EQ(DRIVER_RUNNING, driver.start());
    recorder.firstOffer();
  }
  // As stop(true): the framework stays registered for its failover timeout.
  cluster.waitForMetric("master/frameworks_disconnected", 1);
  EXPECT_EQ(0, cluster.metric("master/frameworks_connected"));
  EXPECT_FALSE(recorder.has([](const Event& e) { return e.name == "error"; }))
      << recorder.describe();
}

TEST(SchedulerLifecycle, ACredentialsPrincipalBecomesTheFrameworksPrincipal) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-credited"), cluster.master(),
                                     credential("cpp-principal"));
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID id = recorder.awaitRegistered();
  std::string frameworks = cluster.get("/master/frameworks");
  EXPECT_NE(std::string::npos, frameworks.find("\"" + id.value() + "\"")) << frameworks;
  EXPECT_NE(std::string::npos, frameworks.find("\"principal\":\"cpp-principal\"")) << frameworks;
  EXPECT_EQ(std::string::npos, frameworks.find("s3cret")) << "the secret is not shown";
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(SchedulerLifecycle, WithoutImplicitAcknowledgementsAnUpdateWaitsForTheAckOfThePrevious) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-explicit"), cluster.master(), false,
                                     credential("cpp-acknowledger"));
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  driver.launchTasks(offer.id(), {task("patient", offer, "sleep 600")});
  mesos::TaskStatus starting = recorder.awaitState("patient", mesos::TASK_STARTING);
  // The agent knows the task runs, but the update waits behind the
  // unacknowledged TASK_STARTING.
  waitFor("the agent to see the task running", [&] {
    std::string state = httpGet(cluster.agentAddress(0), "/state");
    return state.find("\"TASK_RUNNING\"") != std::string::npos;
  });
  cluster.awaitAllocationCycles(5);
  EXPECT_FALSE(recorder.has([](const Event& e) {
    return e.isState("patient", mesos::TASK_RUNNING);
  })) << "TASK_RUNNING before TASK_STARTING was acknowledged: "
      << recorder.describe();

  EXPECT_EQ(DRIVER_RUNNING, driver.acknowledgeStatusUpdate(starting));
  mesos::TaskStatus running = recorder.awaitState("patient", mesos::TASK_RUNNING);
  EXPECT_EQ(DRIVER_RUNNING, driver.acknowledgeStatusUpdate(running));
  EXPECT_NE(std::string::npos,
            cluster.get("/master/frameworks").find("\"principal\":\"cpp-acknowledger\""));
  EXPECT_EQ(DRIVER_RUNNING, driver.killTask(starting.task_id()));
  EXPECT_EQ(DRIVER_RUNNING,
            driver.acknowledgeStatusUpdate(recorder.awaitState("patient", mesos::TASK_KILLED)));
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(SchedulerLifecycle, ADriverBuiltWithItsRoleSuppressedGetsNoOffersUntilItRevives) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, withRoles(framework("cpp-quiet"), {"cpp-quiet"}),
                                     {"cpp-quiet"}, cluster.master(), true,
                                     credential("cpp-quiet-principal"));
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  recorder.awaitRegistered();
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(0, recorder.offerCount()) << "offers to a role suppressed at subscription";
  EXPECT_NE(std::string::npos,
            cluster.get("/master/frameworks").find("\"principal\":\"cpp-quiet-principal\""));

  EXPECT_EQ(DRIVER_RUNNING, driver.reviveOffers());
  mesos::Offer offer = recorder.firstOffer();
  EXPECT_EQ("cpp-quiet", role(offer));
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

// As for the executor driver: the destructor delivers the error() of a
// fatal abort that run() or join() returned before.
TEST(SchedulerLifecycle, TheErrorThatAbortsTheDriverReachesTheSchedulerBeforeItIsDestroyed) {
  // A master file naming another file: the driver gives up as it starts.
  std::string dir = makeTempDir("meseta-cpp-master-file");
  std::string file = dir + "/master";
  std::ofstream(file) << "file:///elsewhere\n";
  int lost = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    Recorder recorder;
    {
      mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-misdirected"), "file://" + file);
      EXPECT_EQ(DRIVER_ABORTED, driver.run());
    }
    if (!recorder.has([](const Event& e) { return e.name == "error"; })) ++lost;
  }
  std::remove(file.c_str());
  rmdir(dir.c_str());
  EXPECT_EQ(0, lost) << "of 20 drivers run and destroyed, the error was lost this often";
}

}  // namespace
}  // namespace meseta_test
