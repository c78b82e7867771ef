// A mesos::Scheduler that records every callback, the tests' waits on what
// they expect, and the messages the tests build.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mesos/scheduler.hpp>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "cluster.hpp"

// GoogleTest prints the driver's statuses and task states by name.
namespace mesos {
void PrintTo(Status status, std::ostream* out);
void PrintTo(TaskState state, std::ostream* out);
}  // namespace mesos

namespace meseta_test {

// One callback: its name, its arguments (the driver left out; only those of
// this callback are set), and when it came.
struct Event {
  explicit Event(std::string name) : name(std::move(name)) {}

  std::string name;
  mesos::FrameworkID frameworkId;
  mesos::MasterInfo masterInfo;
  std::vector<mesos::Offer> offers;
  mesos::OfferID offerId;
  mesos::TaskStatus status;
  mesos::ExecutorID executorId;
  mesos::SlaveID slaveId;
  std::string data;  // a framework message, or the error's message
  int exitStatus = 0;
  std::chrono::steady_clock::time_point when = std::chrono::steady_clock::now();

  bool isOffers() const { return name == "resourceOffers"; }
  bool isState(const std::string& taskId, mesos::TaskState state) const;
  std::string describe() const;
};

class Recorder : public mesos::Scheduler {
 public:
  using Predicate = std::function<bool(const Event&)>;

  // The first event `accept` takes, waiting up to `deadline`; throws
  // WaitTimeout (with every event recorded) otherwise.
  Event await(const std::string& what, const Predicate& accept,
              std::chrono::milliseconds deadline = kDeadline);
  // The first event with this callback name.
  Event await(const std::string& name);
  mesos::TaskStatus awaitState(const std::string& taskId, mesos::TaskState state);
  // The first offer `accept` takes, from any resourceOffers callback.
  mesos::Offer awaitOffer(const std::string& what, const std::function<bool(const mesos::Offer&)>&);
  mesos::Offer firstOffer();
  mesos::FrameworkID awaitRegistered();

  // Whether an event `matches` was recorded.
  bool has(const Predicate& matches) const;
  // The events recorded so far, and a readable list of them.
  std::vector<Event> events() const;
  std::string describe() const;
  // The offers received so far (cleared by clear() too).
  int offerCount() const;
  void clear();

  void registered(mesos::SchedulerDriver*, const mesos::FrameworkID& frameworkId,
                  const mesos::MasterInfo& masterInfo) override;
  void reregistered(mesos::SchedulerDriver*, const mesos::MasterInfo& masterInfo) override;
  void disconnected(mesos::SchedulerDriver*) override;
  void resourceOffers(mesos::SchedulerDriver*, const std::vector<mesos::Offer>& offers) override;
  void offerRescinded(mesos::SchedulerDriver*, const mesos::OfferID& offerId) override;
  void statusUpdate(mesos::SchedulerDriver*, const mesos::TaskStatus& status) override;
  void frameworkMessage(mesos::SchedulerDriver*, const mesos::ExecutorID& executorId,
                        const mesos::SlaveID& slaveId, const std::string& data) override;
  void slaveLost(mesos::SchedulerDriver*, const mesos::SlaveID& slaveId) override;
  void executorLost(mesos::SchedulerDriver*, const mesos::ExecutorID& executorId,
                    const mesos::SlaveID& slaveId, int status) override;
  void error(mesos::SchedulerDriver*, const std::string& message) override;

 protected:
  void add(Event event);

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
  int offers_ = 0;
};

// --- Messages --------------------------------------------------------------

// A framework run by the current user, with this name and failover timeout.
mesos::FrameworkInfo framework(const std::string& name, double failoverTimeout = 0);
// `framework` with these roles and the MULTI_ROLE capability.
mesos::FrameworkInfo withRoles(mesos::FrameworkInfo framework, const std::vector<std::string>&);
mesos::Resource scalar(const std::string& name, double value);
// The total of scalar resource `name` in an offer.
double scalarSum(const mesos::Offer& offer, const std::string& name);
// The role of an offer's (first) resource.
std::string role(const mesos::Offer& offer);
mesos::Filters refuse(double seconds);
mesos::TaskID taskId(const std::string& id);
// A command task of 0.1 cpus and 32 MB on the offer's agent.
mesos::TaskInfo task(const std::string& id, const mesos::Offer& offer, const std::string& command);
// A task (0.1 cpus, 32 MB) run by `executor` on the offer's agent.
mesos::TaskInfo executorTask(const std::string& id, const mesos::Offer& offer,
                             const mesos::ExecutorInfo& executor, const std::string& data = "");
// A custom executor running `command`, with 0.1 cpus and 32 MB.
mesos::ExecutorInfo executorInfo(const std::string& id, const std::string& command);
mesos::Offer::Operation launch(const std::vector<mesos::TaskInfo>& tasks);
mesos::Credential credential(const std::string& principal);
// The tests' recording executor (recording_executor.cpp) as `id`,
// appending what it does to the file `record`.
mesos::ExecutorInfo recordingExecutor(const std::string& id, const std::string& record);
// Waits until the recording executor wrote `line` to `record`.
void awaitLine(const std::string& record, const std::string& line);
// Waits until it wrote a line starting with `prefix`, and returns it.
std::string awaitLineStartingWith(const std::string& record, const std::string& prefix);
// The lines of `record`, for messages.
std::string describeLines(const std::string& record);
// The exit code in a wait status, as executorLost reports it; -1 if a
// signal ended the process.
int exitCode(int waitStatus);

}  // namespace meseta_test
