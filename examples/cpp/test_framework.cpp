// A C++ framework for the C++ binding: runs --tasks N tasks on the C++
// test executor (one executor per agent), collects the executors' framework
// messages, and exits 0 once every task finished.
//
//   meseta_test_framework --master 127.0.0.1:5050 --executor /path/to/meseta_test_executor --tasks
//   4
#include <cstdlib>
#include <iostream>
#include <map>
#include <mesos/scheduler.hpp>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

mesos::Resource scalar(const std::string& name, double value) {
  mesos::Resource resource;
  resource.set_name(name);
  resource.set_type(mesos::Value::SCALAR);
  resource.mutable_scalar()->set_value(value);
  return resource;
}

double available(const mesos::Offer& offer, const std::string& name) {
  double total = 0;
  for (const mesos::Resource& resource : offer.resources()) {
    if (resource.name() == name && resource.type() == mesos::Value::SCALAR) {
      total += resource.scalar().value();
    }
  }
  return total;
}

class TestFramework : public mesos::Scheduler {
 public:
  TestFramework(int tasks, std::string executorPath)
      : total_(tasks), executorPath_(std::move(executorPath)) {}

  void registered(mesos::SchedulerDriver*, const mesos::FrameworkID& id,
                  const mesos::MasterInfo& master) override {
    std::cout << "registered " << id.value() << " with " << master.hostname() << ":"
              << master.port() << std::endl;
  }

  void reregistered(mesos::SchedulerDriver*, const mesos::MasterInfo&) override {
    std::cout << "reregistered" << std::endl;
  }

  void disconnected(mesos::SchedulerDriver*) override { std::cout << "disconnected" << std::endl; }

  void resourceOffers(mesos::SchedulerDriver* driver,
                      const std::vector<mesos::Offer>& offers) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const mesos::Offer& offer : offers) {
      bool executorThere = agentsWithExecutor_.count(offer.slave_id().value()) > 0;
      double cpus = available(offer, "cpus") - (executorThere ? 0 : 0.1);
      double mem = available(offer, "mem") - (executorThere ? 0 : 32);
      std::vector<mesos::TaskInfo> tasks;
      while (launched_ < total_ && cpus >= 0.1 && mem >= 32) {
        tasks.push_back(task(offer));
        cpus -= 0.1;
        mem -= 32;
      }
      if (!tasks.empty()) {
        agentsWithExecutor_.insert(offer.slave_id().value());
      }
      mesos::Filters filters;
      filters.set_refuse_seconds(tasks.empty() ? 60 : 1);
      driver->launchTasks(offer.id(), tasks, filters);
    }
  }

  void offerRescinded(mesos::SchedulerDriver*, const mesos::OfferID&) override {}

  void statusUpdate(mesos::SchedulerDriver* driver, const mesos::TaskStatus& status) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::cout << status.task_id().value() << " " << mesos::TaskState_Name(status.state())
              << std::endl;
    switch (status.state()) {
      case mesos::TASK_FINISHED:
        if (++finished_ == total_) {
          driver->stop();
        }
        break;
      case mesos::TASK_FAILED:
      case mesos::TASK_KILLED:
      case mesos::TASK_LOST:
      case mesos::TASK_ERROR:
      case mesos::TASK_DROPPED:
      case mesos::TASK_GONE:
        std::cerr << "task " << status.task_id().value() << " ended badly: " << status.message()
                  << std::endl;
        failed_ = true;
        driver->abort();
        break;
      default:
        break;
    }
  }

  void frameworkMessage(mesos::SchedulerDriver*, const mesos::ExecutorID&, const mesos::SlaveID&,
                        const std::string& data) override {
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.insert(data);
  }

  void slaveLost(mesos::SchedulerDriver*, const mesos::SlaveID&) override {}

  void executorLost(mesos::SchedulerDriver*, const mesos::ExecutorID& executor,
                    const mesos::SlaveID&, int status) override {
    std::cout << "executor " << executor.value() << " ended with status " << status << std::endl;
  }

  void error(mesos::SchedulerDriver*, const std::string& message) override {
    std::cerr << "error: " << message << std::endl;
    std::lock_guard<std::mutex> lock(mutex_);
    failed_ = true;
  }

  bool succeeded() {
    std::lock_guard<std::mutex> lock(mutex_);
    return !failed_ && finished_ == total_;
  }

  void summary() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::cout << "finished=" << finished_ << "/" << total_ << " messages=" << messages_.size()
              << std::endl;
  }

 private:
  mesos::TaskInfo task(const mesos::Offer& offer) {
    std::string id = "cpp-task-" + std::to_string(launched_++);
    mesos::TaskInfo task;
    task.set_name(id);
    task.mutable_task_id()->set_value(id);
    task.mutable_slave_id()->CopyFrom(offer.slave_id());
    task.add_resources()->CopyFrom(scalar("cpus", 0.1));
    task.add_resources()->CopyFrom(scalar("mem", 32));
    mesos::ExecutorInfo* executor = task.mutable_executor();
    executor->mutable_executor_id()->set_value("cpp-test-executor");
    executor->set_name("C++ test executor");
    executor->mutable_command()->set_value(executorPath_);
    executor->add_resources()->CopyFrom(scalar("cpus", 0.1));
    executor->add_resources()->CopyFrom(scalar("mem", 32));
    return task;
  }

  const int total_;
  const std::string executorPath_;
  std::mutex mutex_;
  int launched_ = 0;
  int finished_ = 0;
  bool failed_ = false;
  std::set<std::string> agentsWithExecutor_;
  std::set<std::string> messages_;
};

void usage(const char* program) {
  std::cerr << "usage: " << program << " --master HOST:PORT --executor PATH [--tasks N]\n"
            << "Runs N tasks (default 4) on the C++ test executor; exits 0 when all finished."
            << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  std::string master;
  std::string executor;
  int tasks = 4;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(argv[0]);
      return 0;
    }
    if (i + 1 >= argc) {
      usage(argv[0]);
      return 2;
    }
    if (arg == "--master") {
      master = argv[++i];
    } else if (arg == "--executor") {
      executor = argv[++i];
    } else if (arg == "--tasks") {
      tasks = std::atoi(argv[++i]);
    } else {
      usage(argv[0]);
      return 2;
    }
  }
  if (master.empty() || executor.empty() || tasks <= 0) {
    usage(argv[0]);
    return 2;
  }
  TestFramework scheduler(tasks, executor);
  mesos::FrameworkInfo framework;
  framework.set_user("");
  framework.set_name("C++ test framework");
  mesos::MesosSchedulerDriver driver(&scheduler, framework, master);
  mesos::Status status = driver.run();
  scheduler.summary();
  std::cout << "driver ended: " << mesos::Status_Name(status) << std::endl;
  return scheduler.succeeded() && status == mesos::DRIVER_STOPPED ? 0 : 1;
}
