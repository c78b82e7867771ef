// How a C++ executor's driver ends: shut down by the agent when its
// framework is torn down, stopped or aborted by the executor itself, or
// aborted by the driver on an error; what run() returns then, and what the
// scheduler sees of it. The executor is recording_executor.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mesos/scheduler.hpp>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "recorder.hpp"

namespace meseta_test {
namespace {

using mesos::DRIVER_RUNNING;
using mesos::DRIVER_STOPPED;

bool contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// A cluster, a scheduler, and the recording executor running task "worker".
class ExecutorLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>(1);
    record_ = cluster_->root() + "/executor.record";
    driver_ = std::make_unique<mesos::MesosSchedulerDriver>(
        &recorder_, framework("cpp-executor-life"), cluster_->master());
    ASSERT_EQ(DRIVER_RUNNING, driver_->start());
    offer_ = recorder_.firstOffer();
    executor_ = recordingExecutor("mortal", record_);
    ASSERT_EQ(DRIVER_RUNNING,
              driver_->launchTasks(offer_.id(), {executorTask("worker", offer_, executor_)}));
    recorder_.awaitState("worker", mesos::TASK_RUNNING);
  }

  void TearDown() override {
    if (driver_) {
      driver_->stop();
      driver_->join();
    }
    driver_.reset();
    cluster_.reset();
  }

  void send(const std::string& text) {
    ASSERT_EQ(DRIVER_RUNNING,
              driver_->sendFrameworkMessage(executor_.executor_id(), offer_.slave_id(), text));
  }

  // The executorLost the scheduler got for this executor: its wait status.
  int awaitExecutorLost() {
    Event lost = recorder_.await("executorLost");
    EXPECT_EQ("mortal", lost.executorId.value());
    EXPECT_EQ(offer_.slave_id().value(), lost.slaveId.value());
    return lost.exitStatus;
  }

  std::unique_ptr<LocalCluster> cluster_;
  Recorder recorder_;
  std::unique_ptr<mesos::MesosSchedulerDriver> driver_;
  mesos::Offer offer_;
  mesos::ExecutorInfo executor_;
  std::string record_;
};

TEST_F(ExecutorLifecycle, ATornDownFrameworksExecutorIsShutDownAndItsRunReturnsDriverStopped) {
  EXPECT_EQ(DRIVER_STOPPED, driver_->stop());
  EXPECT_EQ(DRIVER_STOPPED, driver_->join());
  awaitLine(record_, "after run: sendFrameworkMessage DRIVER_STOPPED, start DRIVER_STOPPED");
  std::vector<std::string> seen = readLines(record_);
  auto shutdown = std::find(seen.begin(), seen.end(), "shutdown");
  ASSERT_NE(seen.end(), shutdown) << describeLines(record_);
  EXPECT_EQ("run DRIVER_STOPPED", *(shutdown + 1))
      << "shutdown, then run returns: " << describeLines(record_);
}

TEST_F(ExecutorLifecycle, StopInTheExecutorEndsItsRunWithDriverStoppedAndItExitsCleanly) {
  send("stop");
  awaitLine(record_, "stop DRIVER_STOPPED");
  awaitLine(record_, "run DRIVER_STOPPED");
  awaitLine(record_, "after run: sendFrameworkMessage DRIVER_STOPPED, start DRIVER_STOPPED");
  EXPECT_EQ(0, exitCode(awaitExecutorLost()));
  mesos::TaskStatus failed = recorder_.awaitState("worker", mesos::TASK_FAILED);
  EXPECT_EQ(mesos::TaskStatus::REASON_EXECUTOR_TERMINATED, failed.reason());
  EXPECT_FALSE(contains(readLines(record_), "shutdown"))
      << "stop() is not a shutdown: " << describeLines(record_);
}

TEST_F(ExecutorLifecycle, AbortInTheExecutorEndsItsRunWithDriverAbortedAndLaterCallsAreRefused) {
  send("abort");
  awaitLine(record_, "run DRIVER_ABORTED");
  EXPECT_EQ(1, exitCode(awaitExecutorLost()));
  std::vector<std::string> seen = readLines(record_);
  for (const char* line :
       {"abort DRIVER_ABORTED", "sendFrameworkMessage after abort DRIVER_ABORTED",
        "sendStatusUpdate after abort DRIVER_ABORTED",
        "after run: sendFrameworkMessage DRIVER_ABORTED, start DRIVER_ABORTED"}) {
    EXPECT_TRUE(contains(seen, line)) << line << " in " << describeLines(record_);
  }
  recorder_.awaitState("worker", mesos::TASK_FAILED);
  // Nothing sent after the abort reached the scheduler.
  EXPECT_FALSE(recorder_.has([](const Event& e) {
    return e.name == "frameworkMessage" ||
           (e.name == "statusUpdate" && e.status.task_id().value() == "any");
  })) << recorder_.describe();
}

TEST_F(ExecutorLifecycle, AnExecutorThatSendsTaskStagingGetsAnErrorAndItsDriverAborts) {
  send("staging worker");
  std::string error = awaitLineStartingWith(record_, "error ");
  EXPECT_NE(std::string::npos, error.find("TASK_STAGING")) << error;
  awaitLine(record_, "run DRIVER_ABORTED");
  EXPECT_EQ(1, exitCode(awaitExecutorLost()));
  // The scheduler never sees TASK_STAGING from the executor; the task fails.
  mesos::TaskStatus failed = recorder_.awaitState("worker", mesos::TASK_FAILED);
  EXPECT_EQ(mesos::TaskStatus::REASON_EXECUTOR_TERMINATED, failed.reason());
  EXPECT_FALSE(recorder_.has([](const Event& e) {
    return e.name == "statusUpdate" && e.status.state() == mesos::TASK_STAGING;
  })) << recorder_.describe();
}

}  // namespace
}  // namespace meseta_test
