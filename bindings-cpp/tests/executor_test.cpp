// The executor driver: in C++ executors a real agent runs (the example
// test executor, and recording_executor.cpp, which writes down every
// callback and what every call returned), and in this process, outside any
// agent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mesos/executor.hpp>
#include <mesos/scheduler.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "cluster.hpp"
#include "recorder.hpp"

extern char** environ;

namespace meseta_test {
namespace {

using mesos::DRIVER_ABORTED;
using mesos::DRIVER_NOT_STARTED;
using mesos::DRIVER_RUNNING;
using mesos::DRIVER_STOPPED;

Event awaitMessage(Recorder& recorder, const std::string& data) {
  return recorder.await("the framework message \"" + data + "\"", [&](const Event& e) {
    return e.name == "frameworkMessage" && e.data == data;
  });
}

TEST(Executor, TheExampleExecutorRunsTasksExchangesMessagesAndIsKilled) {
  LocalCluster cluster(1);
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-example-executor"),
                                     cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  mesos::ExecutorInfo executor = executorInfo("example", "'" + testExecutorPath() + "'");
  ASSERT_EQ(DRIVER_RUNNING, driver.launchTasks(offer.id(),
                                               {executorTask("quick", offer, executor),
                                                executorTask("sleepy", offer, executor, "sleep")},
                                               mesos::Filters()));

  for (const char* id : {"quick", "sleepy"}) {
    mesos::TaskStatus running = recorder.awaitState(id, mesos::TASK_RUNNING);
    EXPECT_EQ(mesos::TaskStatus::SOURCE_EXECUTOR, running.source()) << id;
    EXPECT_EQ("example", running.executor_id().value()) << id;
    Event hello = awaitMessage(recorder, std::string("hello from ") + id);
    EXPECT_EQ("example", hello.executorId.value());
    EXPECT_EQ(offer.slave_id().value(), hello.slaveId.value());
  }
  EXPECT_EQ("done", recorder.awaitState("quick", mesos::TASK_FINISHED).message());

  EXPECT_EQ(DRIVER_RUNNING,
            driver.sendFrameworkMessage(executor.executor_id(), offer.slave_id(), "ping"));
  Event echo = awaitMessage(recorder, "echo: ping");
  EXPECT_EQ("example", echo.executorId.value());
  EXPECT_EQ(offer.slave_id().value(), echo.slaveId.value());

  EXPECT_EQ(DRIVER_RUNNING, driver.killTask(taskId("sleepy")));
  mesos::TaskStatus killed = recorder.awaitState("sleepy", mesos::TASK_KILLED);
  EXPECT_EQ("killed", killed.message());
  EXPECT_FALSE(recorder.has([](const Event& e) { return e.name == "executorLost"; }))
      << recorder.describe();
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Executor, StatusUpdatesAndMessagesReachTheSchedulerWithTheExecutorsIds) {
  LocalCluster cluster(1);
  std::string record = cluster.root() + "/executor.record";
  Recorder recorder;
  mesos::MesosSchedulerDriver driver(&recorder, framework("cpp-recorded"), cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  mesos::ExecutorInfo executor = recordingExecutor("recorder", record);
  driver.launchTasks(offer.id(), {executorTask("worker", offer, executor)});

  mesos::TaskStatus running = recorder.awaitState("worker", mesos::TASK_RUNNING);
  EXPECT_EQ(mesos::TaskStatus::SOURCE_EXECUTOR, running.source());
  EXPECT_EQ("recorder", running.executor_id().value());
  EXPECT_EQ(offer.slave_id().value(), running.slave_id().value());
  awaitLine(record, "sendStatusUpdate TASK_RUNNING DRIVER_RUNNING");
  EXPECT_EQ(std::vector<std::string>({
                "before start: sendFrameworkMessage DRIVER_NOT_STARTED, sendStatusUpdate "
                "DRIVER_NOT_STARTED, join DRIVER_NOT_STARTED",
                "registered recorder cpp-recorded " + offer.slave_id().value(),
                "launchTask worker",
                "sendStatusUpdate TASK_RUNNING DRIVER_RUNNING",
            }),
            readLines(record));

  EXPECT_EQ(DRIVER_RUNNING,
            driver.sendFrameworkMessage(executor.executor_id(), offer.slave_id(), "hello"));
  Event echo = awaitMessage(recorder, "echo hello");
  EXPECT_EQ("recorder", echo.executorId.value());
  EXPECT_EQ(offer.slave_id().value(), echo.slaveId.value());
  awaitLine(record, "sendFrameworkMessage DRIVER_RUNNING");

  // An exception thrown by a callback is reported through error(), and the
  // executor goes on.
  driver.sendFrameworkMessage(executor.executor_id(), offer.slave_id(), "throw");
  std::string error = awaitLineStartingWith(record, "error ");
  EXPECT_EQ("error Executor::frameworkMessage threw: boom in frameworkMessage", error);

  driver.sendFrameworkMessage(executor.executor_id(), offer.slave_id(), "finish worker");
  mesos::TaskStatus finished = recorder.awaitState("worker", mesos::TASK_FINISHED);
  EXPECT_EQ(mesos::TaskStatus::SOURCE_EXECUTOR, finished.source());
  EXPECT_EQ("finished by the executor", finished.message());
  EXPECT_EQ("result bytes", finished.data());
  awaitLine(record, "sendStatusUpdate TASK_FINISHED DRIVER_RUNNING");
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Executor, AnAgentRestartDisconnectsTheExecutorWhichReregistersAndKeepsItsTask) {
  // A recovered agent gives its executors 2 s to come back by default; 5 s
  // keeps a busy machine from failing the test.
  LocalCluster cluster(
      LocalCluster::Options{1, {}, {"--executor-reregistration-timeout", "5secs"}});
  std::string record = cluster.root() + "/executor.record";
  Recorder recorder;
  mesos::FrameworkInfo checkpointing = framework("cpp-checkpointed", 3600);
  checkpointing.set_checkpoint(true);
  mesos::MesosSchedulerDriver driver(&recorder, checkpointing, cluster.master());
  ASSERT_EQ(DRIVER_RUNNING, driver.start());
  mesos::Offer offer = recorder.firstOffer();
  mesos::ExecutorInfo executor = recordingExecutor("durable", record);
  driver.launchTasks(offer.id(), {executorTask("kept", offer, executor)});
  recorder.awaitState("kept", mesos::TASK_RUNNING);

  cluster.restartAgent(0);
  std::string reregistered = "reregistered " + offer.slave_id().value();
  awaitLine(record, reregistered);
  std::vector<std::string> seen = readLines(record);
  auto disconnected = std::find(seen.begin(), seen.end(), "disconnected");
  EXPECT_TRUE(disconnected < std::find(seen.begin(), seen.end(), reregistered))
      << "disconnected, then reregistered: " << describeLines(record);

  // The task survived, and the executor still gets what the scheduler sends.
  recorder.clear();
  cluster.waitForActiveAgents(1);
  EXPECT_EQ(DRIVER_RUNNING, driver.reconcileTasks({}));
  recorder.awaitState("kept", mesos::TASK_RUNNING);
  EXPECT_EQ(DRIVER_RUNNING, driver.killTask(taskId("kept")));
  recorder.awaitState("kept", mesos::TASK_KILLED);
  awaitLine(record, "killTask kept");
  EXPECT_EQ(DRIVER_STOPPED, driver.stop());
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

// Records an in-process executor's callbacks.
class LocalExecutor : public mesos::Executor {
 public:
  std::string awaitError() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, kDeadline, [&] { return !errors_.empty(); })) {
      throw WaitTimeout("timed out waiting for error()");
    }
    return errors_.front();
  }

  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }

  void registered(mesos::ExecutorDriver*, const mesos::ExecutorInfo&, const mesos::FrameworkInfo&,
                  const mesos::SlaveInfo&) override {
    add("registered");
  }
  void reregistered(mesos::ExecutorDriver*, const mesos::SlaveInfo&) override {
    add("reregistered");
  }
  void disconnected(mesos::ExecutorDriver*) override { add("disconnected"); }
  void launchTask(mesos::ExecutorDriver*, const mesos::TaskInfo&) override { add("launchTask"); }
  void killTask(mesos::ExecutorDriver*, const mesos::TaskID&) override { add("killTask"); }
  void frameworkMessage(mesos::ExecutorDriver*, const std::string&) override {
    add("frameworkMessage");
  }
  void shutdown(mesos::ExecutorDriver*) override { add("shutdown"); }
  void error(mesos::ExecutorDriver*, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back("error");
    errors_.push_back(message);
    changed_.notify_all();
  }

 private:
  void add(const std::string& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls_.push_back(call);
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> calls_;
  std::vector<std::string> errors_;
};

// This process is no executor an agent started.
void clearMesosEnvironment() {
  std::vector<std::string> names;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    std::string entry = *variable;
    if (entry.compare(0, 6, "MESOS_") == 0) names.push_back(entry.substr(0, entry.find('=')));
  }
  for (const std::string& name : names) unsetenv(name.c_str());
}

mesos::TaskStatus anyStatus() {
  mesos::TaskStatus status;
  status.mutable_task_id()->set_value("any");
  status.set_state(mesos::TASK_RUNNING);
  return status;
}

TEST(Executor, CallsOnAnExecutorDriverThatWasNeverStartedReturnDriverNotStarted) {
  LocalExecutor executor;
  mesos::MesosExecutorDriver driver(&executor);
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.sendStatusUpdate(anyStatus()));
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.sendFrameworkMessage("early"));
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.join()) << "join returns at once";
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.abort());
  EXPECT_EQ(DRIVER_NOT_STARTED, driver.stop());
  EXPECT_TRUE(executor.calls().empty());
}

TEST(Executor, AnExecutorDriverOutsideAnAgentReportsTheMissingEnvironmentAndAborts) {
  clearMesosEnvironment();
  LocalExecutor executor;
  mesos::MesosExecutorDriver driver(&executor);
  // The environment is read as the driver starts: start itself succeeds.
  EXPECT_EQ(DRIVER_RUNNING, driver.start());
  std::string error = executor.awaitError();
  EXPECT_NE(std::string::npos, error.find("MESOS_")) << error;
  EXPECT_EQ(DRIVER_ABORTED, driver.join());
  EXPECT_EQ(std::vector<std::string>{"error"}, executor.calls());
  EXPECT_EQ(DRIVER_ABORTED, driver.sendStatusUpdate(anyStatus()));
  EXPECT_EQ(DRIVER_ABORTED, driver.sendFrameworkMessage("late"));
  EXPECT_EQ(DRIVER_ABORTED, driver.start());
  EXPECT_EQ(DRIVER_ABORTED, driver.abort());
  EXPECT_EQ(DRIVER_ABORTED, driver.stop()) << "stop after abort says it was aborted";
  EXPECT_EQ(DRIVER_STOPPED, driver.join());
}

TEST(Executor, RunOutsideAnAgentReturnsDriverAborted) {
  clearMesosEnvironment();
  LocalExecutor executor;
  mesos::MesosExecutorDriver driver(&executor);
  EXPECT_EQ(DRIVER_ABORTED, driver.run());
  EXPECT_NE(std::string::npos, executor.awaitError().find("MESOS_"));
}

// run() returns DRIVER_ABORTED as soon as the driver aborts, possibly before
// error() ran; the destructor still delivers it (as Mesos's driver does), so
// an executor whose main returns with run() learns why.
TEST(Executor, TheErrorThatAbortsTheDriverReachesTheExecutorBeforeTheDriverIsDestroyed) {
  clearMesosEnvironment();
  int lost = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    LocalExecutor executor;
    {
      mesos::MesosExecutorDriver driver(&executor);
      EXPECT_EQ(DRIVER_ABORTED, driver.run());
    }
    if (executor.calls() != std::vector<std::string>{"error"}) ++lost;
  }
  EXPECT_EQ(0, lost) << "of 20 drivers run and destroyed, the error was lost this often";
}

}  // namespace
}  // namespace meseta_test
