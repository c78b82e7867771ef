// The executor of the executor tests, started by a real agent. It appends
// one line per callback, and per driver call with the status it returned,
// to the file $RECORD_TO (framework messages cannot tell a scheduler about
// a disconnection or a shutdown), and does what the scheduler's framework
// messages say:
//   "finish T"   sends TASK_FINISHED for task T, with a message and data;
//   "stop"       stops its driver; "abort": aborts it, then tries to send;
//   "staging T"  sends TASK_STAGING, which executors may not;
//   "throw"      throws from frameworkMessage (reported through error());
//   anything else, X: answers "echo X".
// Tasks run until killed. main records what calls return before start,
// what run returns, and what calls return after it, then exits 0 if run
// returned DRIVER_STOPPED, else 1.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mesos/executor.hpp>
#include <mutex>
#include <stdexcept>
#include <string>

namespace {

const char kFinishedMessage[] = "finished by the executor";
const char kFinishedData[] = "result bytes";

std::string name(mesos::Status status) { return mesos::Status_Name(status); }

mesos::TaskStatus status(const std::string& taskId, mesos::TaskState state) {
  mesos::TaskStatus update;
  update.mutable_task_id()->set_value(taskId);
  update.set_state(state);
  return update;
}

class RecordingExecutor : public mesos::Executor {
 public:
  explicit RecordingExecutor(std::string path) : path_(std::move(path)) {}

  void record(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::ofstream out(path_, std::ios::app);
    out << line << std::endl;
  }

  void registered(mesos::ExecutorDriver*, const mesos::ExecutorInfo& executor,
                  const mesos::FrameworkInfo& framework, const mesos::SlaveInfo& agent) override {
    record("registered " + executor.executor_id().value() + " " + framework.name() + " " +
           agent.id().value());
  }

  void reregistered(mesos::ExecutorDriver*, const mesos::SlaveInfo& agent) override {
    record("reregistered " + agent.id().value());
  }

  void disconnected(mesos::ExecutorDriver*) override { record("disconnected"); }

  void launchTask(mesos::ExecutorDriver* driver, const mesos::TaskInfo& task) override {
    record("launchTask " + task.task_id().value());
    record("sendStatusUpdate TASK_RUNNING " +
           name(driver->sendStatusUpdate(status(task.task_id().value(), mesos::TASK_RUNNING))));
  }

  void killTask(mesos::ExecutorDriver* driver, const mesos::TaskID& taskId) override {
    record("killTask " + taskId.value());
    record("sendStatusUpdate TASK_KILLED " +
           name(driver->sendStatusUpdate(status(taskId.value(), mesos::TASK_KILLED))));
  }

  void frameworkMessage(mesos::ExecutorDriver* driver, const std::string& data) override {
    record("frameworkMessage " + data);
    std::string verb = data.substr(0, data.find(' '));
    std::string argument =
        data.find(' ') == std::string::npos ? "" : data.substr(data.find(' ') + 1);
    if (verb == "finish") {
      mesos::TaskStatus finished = status(argument, mesos::TASK_FINISHED);
      finished.set_message(kFinishedMessage);
      finished.set_data(kFinishedData);
      record("sendStatusUpdate TASK_FINISHED " + name(driver->sendStatusUpdate(finished)));
    } else if (verb == "stop") {
      record("stop " + name(driver->stop()));
    } else if (verb == "abort") {
      record("abort " + name(driver->abort()));
      record("sendFrameworkMessage after abort " +
             name(driver->sendFrameworkMessage("after abort")));
      record("sendStatusUpdate after abort " +
             name(driver->sendStatusUpdate(status("any", mesos::TASK_FAILED))));
    } else if (verb == "staging") {
      record("sendStatusUpdate TASK_STAGING " +
             name(driver->sendStatusUpdate(status(argument, mesos::TASK_STAGING))));
    } else if (verb == "throw") {
      throw std::runtime_error("boom in frameworkMessage");
    } else {
      record("sendFrameworkMessage " + name(driver->sendFrameworkMessage("echo " + data)));
    }
  }

  void shutdown(mesos::ExecutorDriver*) override { record("shutdown"); }

  void error(mesos::ExecutorDriver*, const std::string& message) override {
    record("error " + message);
  }

 private:
  std::mutex mutex_;
  std::string path_;
};

}  // namespace

int main() {
  const char* path = std::getenv("RECORD_TO");
  if (path == nullptr) {
    std::cerr << "RECORD_TO is not set" << std::endl;
    return 2;
  }
  RecordingExecutor executor(path);
  mesos::MesosExecutorDriver driver(&executor);
  executor.record("before start: sendFrameworkMessage " +
                  name(driver.sendFrameworkMessage("early")) + ", sendStatusUpdate " +
                  name(driver.sendStatusUpdate(status("any", mesos::TASK_RUNNING))) + ", join " +
                  name(driver.join()));
  mesos::Status result = driver.run();
  executor.record("run " + name(result));
  executor.record("after run: sendFrameworkMessage " + name(driver.sendFrameworkMessage("late")) +
                  ", start " + name(driver.start()));
  return result == mesos::DRIVER_STOPPED ? 0 : 1;
}
