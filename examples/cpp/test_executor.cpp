// A C++ executor for the example frameworks and the tests. Each task runs
// on its own thread: TASK_RUNNING, a framework message "hello from <task>",
// then TASK_FINISHED, or, if the task's data is "sleep", waits until it is
// killed (TASK_KILLED). Framework messages from the scheduler are echoed
// back as "echo: <message>". The agent starts it through an ExecutorInfo
// whose command is this program's path.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mesos/executor.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

mesos::TaskStatus status(const mesos::TaskID& task, mesos::TaskState state,
                         const std::string& message = "") {
  mesos::TaskStatus update;
  update.mutable_task_id()->CopyFrom(task);
  update.set_state(state);
  if (!message.empty()) {
    update.set_message(message);
  }
  return update;
}

class TestExecutor : public mesos::Executor {
 public:
  // Waits for the task threads (before the driver they use goes away).
  void finish() {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      workers.swap(workers_);
    }
    for (std::thread& worker : workers) {
      worker.join();
    }
  }

  void registered(mesos::ExecutorDriver*, const mesos::ExecutorInfo& executor,
                  const mesos::FrameworkInfo& framework, const mesos::SlaveInfo& agent) override {
    std::cout << "registered " << executor.executor_id().value() << " of " << framework.name()
              << " on " << agent.hostname() << std::endl;
  }

  void reregistered(mesos::ExecutorDriver*, const mesos::SlaveInfo& agent) override {
    std::cout << "reregistered on " << agent.hostname() << std::endl;
  }

  void disconnected(mesos::ExecutorDriver*) override { std::cout << "disconnected" << std::endl; }

  void launchTask(mesos::ExecutorDriver* driver, const mesos::TaskInfo& task) override {
    std::lock_guard<std::mutex> lock(mutex_);
    killed_[task.task_id().value()] = false;
    workers_.emplace_back([this, driver, task] { run(driver, task); });
  }

  void killTask(mesos::ExecutorDriver*, const mesos::TaskID& task) override {
    std::lock_guard<std::mutex> lock(mutex_);
    killed_[task.value()] = true;
    changed_.notify_all();
  }

  void frameworkMessage(mesos::ExecutorDriver* driver, const std::string& data) override {
    driver->sendFrameworkMessage("echo: " + data);
  }

  void shutdown(mesos::ExecutorDriver* driver) override {
    std::cout << "shutdown" << std::endl;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& entry : killed_) {
        entry.second = true;
      }
      changed_.notify_all();
    }
    driver->stop();
  }

  void error(mesos::ExecutorDriver*, const std::string& message) override {
    std::cerr << "error: " << message << std::endl;
  }

 private:
  void run(mesos::ExecutorDriver* driver, const mesos::TaskInfo& task) {
    driver->sendStatusUpdate(status(task.task_id(), mesos::TASK_RUNNING));
    driver->sendFrameworkMessage("hello from " + task.task_id().value());
    if (task.data() == "sleep") {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return killed_[task.task_id().value()]; });
      lock.unlock();
      driver->sendStatusUpdate(status(task.task_id(), mesos::TASK_KILLED, "killed"));
      return;
    }
    driver->sendStatusUpdate(status(task.task_id(), mesos::TASK_FINISHED, "done"));
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, bool> killed_;
  std::vector<std::thread> workers_;
};

}  // namespace

int main() {
  TestExecutor executor;
  mesos::MesosExecutorDriver driver(&executor);
  mesos::Status status = driver.run();
  executor.finish();
  std::cout << "executor driver ended: " << mesos::Status_Name(status) << std::endl;
  return status == mesos::DRIVER_STOPPED ? 0 : 1;
}
