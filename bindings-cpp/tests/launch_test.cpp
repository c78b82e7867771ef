// The launchTasks overloads, and acceptOffers with several operations in
// one call (LAUNCH, LAUNCH_GROUP with a DEFAULT executor, LAUNCH).
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

TEST(Launch, LaunchTasksWithOneOfferIdAndNoFiltersRunsTheTasks) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-single-offer"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  ASSERT_EQ(DRIVER_RUNNING, driver.launchTasks(offer.id(), {task("one", offer, "true"),
                                                            task("two", offer, "exit 2")}));
  mesos::TaskStatus one = recorder.awaitState("one", mesos::TASK_FINISHED);
  EXPECT_EQ(offer.slave_id().value(), one.slave_id().value());
  mesos::TaskStatus two = recorder.awaitState("two", mesos::TASK_FAILED);
  EXPECT_EQ(offer.slave_id().value(), two.slave_id().value());
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Launch, LaunchTasksWithFiltersSaysHowLongWhatTheTasksLeaveIsRefused) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-filtered-launch"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();

  // refuse_seconds 0: the rest of the offer comes back at once, well before
  // the 5 s a launch without filters refuses it for.
  recorder.clear();
  auto launched = std::chrono::steady_clock::now();
  ASSERT_EQ(DRIVER_RUNNING, driver.launchTasks(std::vector<mesos::OfferID>{offer.id()},
                                               {task("first", offer, "sleep 600")}, refuse(0)));
  mesos::Offer rest = recorder.firstOffer();
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - launched);
  EXPECT_LT(after.count(), 4000) << "the rest offered again after " << after.count() << " ms";
  EXPECT_EQ(offer.slave_id().value(), rest.slave_id().value());
  // The task holds what it asked for (0.1 cpus, 32 MB).
  EXPECT_NEAR(scalarSum(offer, "cpus") - 0.1, scalarSum(rest, "cpus"), 1e-9);
  EXPECT_NEAR(scalarSum(offer, "mem") - 32, scalarSum(rest, "mem"), 1e-9);
  recorder.awaitState("first", mesos::TASK_RUNNING);

  // refuse_seconds 3600: nothing comes back until reviveOffers.
  recorder.clear();
  ASSERT_EQ(DRIVER_RUNNING, driver.launchTasks(std::vector<mesos::OfferID>{rest.id()},
                                               {task("second", rest, "sleep 600")}, refuse(3600)));
  recorder.awaitState("second", mesos::TASK_RUNNING);
  cluster.awaitAllocationCycles(5);
  EXPECT_EQ(0, recorder.offerCount()) << "the rest of the offer, refused for an hour";
  EXPECT_EQ(DRIVER_RUNNING, driver.reviveOffers());
  mesos::Offer last = recorder.firstOffer();
  EXPECT_NEAR(scalarSum(offer, "cpus") - 0.2, scalarSum(last, "cpus"), 1e-9);

  for (const char* id : {"first", "second"}) {
    EXPECT_EQ(DRIVER_RUNNING, driver.killTask(taskId(id)));
    recorder.awaitState(id, mesos::TASK_KILLED);
  }
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Launch, AcceptOffersRunsTwoLaunchesAndATaskGroupFromOneOffer) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-operations"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::FrameworkID frameworkId = recorder.awaitRegistered();
  mesos::Offer offer = recorder.firstOffer();

  mesos::ExecutorInfo pod;
  pod.set_type(mesos::ExecutorInfo::DEFAULT);
  pod.mutable_executor_id()->set_value("pod");
  pod.mutable_framework_id()->CopyFrom(frameworkId);
  *pod.add_resources() = scalar("cpus", 0.1);
  *pod.add_resources() = scalar("mem", 32);
  mesos::Offer::Operation group;
  group.set_type(mesos::Offer::Operation::LAUNCH_GROUP);
  group.mutable_launch_group()->mutable_executor()->CopyFrom(pod);
  mesos::TaskGroupInfo* tasks = group.mutable_launch_group()->mutable_task_group();
  *tasks->add_tasks() = task("web", offer, "true");
  *tasks->add_tasks() = task("sidecar", offer, "true");
  std::vector<mesos::Offer::Operation> operations = {launch({task("first", offer, "true")}), group,
                                                     launch({task("last", offer, "true")})};
  recorder.clear();
  ASSERT_EQ(DRIVER_RUNNING, driver.acceptOffers({offer.id()}, operations, refuse(3600)));
  for (const char* id : {"first", "last"}) {
    mesos::TaskStatus finished = recorder.awaitState(id, mesos::TASK_FINISHED);
    EXPECT_EQ(offer.slave_id().value(), finished.slave_id().value()) << id;
  }
  for (const char* id : {"web", "sidecar"}) {
    mesos::TaskStatus finished = recorder.awaitState(id, mesos::TASK_FINISHED);
    EXPECT_EQ("pod", finished.executor_id().value()) << id << " ran in the group's executor";
  }
  EXPECT_FALSE(recorder.has([](const Event& e) { return e.name == "error"; }))
      << recorder.describe();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Launch, ALaunchTheMasterRefusesEndsWithTaskError) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-greedy"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  mesos::TaskInfo greedy = task("greedy", offer, "true");
  greedy.mutable_resources(0)->mutable_scalar()->set_value(64);  // the agent has 2 cpus
  ASSERT_EQ(DRIVER_RUNNING, driver.launchTasks(offer.id(), {greedy}));
  mesos::TaskStatus refused = recorder.awaitState("greedy", mesos::TASK_ERROR);
  EXPECT_FALSE(refused.message().empty());
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

}  // namespace
}  // namespace meseta_test
