// Builds against the installed meseta package only: a scheduler driver for
// a master nobody runs starts (it keeps looking for the master) and stops,
// an executor driver outside an agent has not started, and the v1 library
// (its headers and mesos::v1 messages installed too) starts and stops.
#include <iostream>
#include <mesos/executor.hpp>
#include <mesos/scheduler.hpp>
#include <mesos/v1/scheduler.hpp>
#include <string>
#include <vector>

namespace {

class QuietScheduler : public mesos::Scheduler {
 public:
  void registered(mesos::SchedulerDriver*, const mesos::FrameworkID&,
                  const mesos::MasterInfo&) override {}
  void reregistered(mesos::SchedulerDriver*, const mesos::MasterInfo&) override {}
  void disconnected(mesos::SchedulerDriver*) override {}
  void resourceOffers(mesos::SchedulerDriver*, const std::vector<mesos::Offer>&) override {}
  void offerRescinded(mesos::SchedulerDriver*, const mesos::OfferID&) override {}
  void statusUpdate(mesos::SchedulerDriver*, const mesos::TaskStatus&) override {}
  void frameworkMessage(mesos::SchedulerDriver*, const mesos::ExecutorID&, const mesos::SlaveID&,
                        const std::string&) override {}
  void slaveLost(mesos::SchedulerDriver*, const mesos::SlaveID&) override {}
  void executorLost(mesos::SchedulerDriver*, const mesos::ExecutorID&, const mesos::SlaveID&,
                    int) override {}
  void error(mesos::SchedulerDriver*, const std::string&) override {}
};

class QuietExecutor : public mesos::Executor {
 public:
  void registered(mesos::ExecutorDriver*, const mesos::ExecutorInfo&, const mesos::FrameworkInfo&,
                  const mesos::SlaveInfo&) override {}
  void reregistered(mesos::ExecutorDriver*, const mesos::SlaveInfo&) override {}
  void disconnected(mesos::ExecutorDriver*) override {}
  void launchTask(mesos::ExecutorDriver*, const mesos::TaskInfo&) override {}
  void killTask(mesos::ExecutorDriver*, const mesos::TaskID&) override {}
  void frameworkMessage(mesos::ExecutorDriver*, const std::string&) override {}
  void shutdown(mesos::ExecutorDriver*) override {}
  void error(mesos::ExecutorDriver*, const std::string&) override {}
};

bool expect(const char* call, mesos::Status got, mesos::Status wanted) {
  std::cout << call << " -> " << mesos::Status_Name(got) << std::endl;
  if (got != wanted) {
    std::cerr << call << ": expected " << mesos::Status_Name(wanted) << std::endl;
    return false;
  }
  return true;
}

}  // namespace

int main() {
  QuietScheduler scheduler;
  mesos::FrameworkInfo framework;
  framework.set_user("");
  framework.set_name("consumer");
  // Port 1: nobody listens there.
  mesos::MesosSchedulerDriver driver(&scheduler, framework, "127.0.0.1:1");
  bool ok = expect("start", driver.start(), mesos::DRIVER_RUNNING);
  ok = expect("stop", driver.stop(), mesos::DRIVER_STOPPED) && ok;
  ok = expect("join", driver.join(), mesos::DRIVER_STOPPED) && ok;

  QuietExecutor executor;
  mesos::MesosExecutorDriver executorDriver(&executor);
  ok = expect("sendFrameworkMessage", executorDriver.sendFrameworkMessage("unsent"),
              mesos::DRIVER_NOT_STARTED) &&
       ok;
  {
    mesos::v1::scheduler::Mesos v1(
        "127.0.0.1:1", mesos::ContentType::PROTOBUF, [] {}, [] {},
        [](const std::queue<mesos::v1::scheduler::Event>&) {});
    mesos::v1::scheduler::Call call;
    call.set_type(mesos::v1::scheduler::Call::SUBSCRIBE);
    v1.send(call);
    std::cout << "v1 library started and stopped" << std::endl;
  }
  std::cout << (ok ? "consumer ok" : "consumer FAILED") << std::endl;
  return ok ? 0 : 1;
}
