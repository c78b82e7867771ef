#include "recorder.hpp"

#include <sys/wait.h>

#include <sstream>
#include <utility>

namespace mesos {

void PrintTo(Status status, std::ostream* out) { *out << Status_Name(status); }

void PrintTo(TaskState state, std::ostream* out) { *out << TaskState_Name(state); }

}  // namespace mesos

namespace meseta_test {

bool Event::isState(const std::string& taskId, mesos::TaskState state) const {
  return name == "statusUpdate" && status.task_id().value() == taskId && status.state() == state;
}

std::string Event::describe() const {
  std::ostringstream out;
  out << name << "(";
  if (name == "registered") {
    out << frameworkId.value();
  } else if (name == "resourceOffers") {
    for (const mesos::Offer& offer : offers) {
      out << "[" << offer.id().value() << " on " << offer.slave_id().value() << " to "
          << role(offer) << "]";
    }
  } else if (name == "offerRescinded") {
    out << offerId.value();
  } else if (name == "statusUpdate") {
    out << status.task_id().value() << " " << mesos::TaskState_Name(status.state());
    if (!status.message().empty()) out << " \"" << status.message() << "\"";
  } else if (name == "frameworkMessage") {
    out << executorId.value() << ", " << slaveId.value() << ", \"" << data << "\"";
  } else if (name == "slaveLost") {
    out << slaveId.value();
  } else if (name == "executorLost") {
    out << executorId.value() << ", " << slaveId.value() << ", " << exitStatus;
  } else if (name == "error") {
    out << "\"" << data << "\"";
  }
  out << ")";
  return out.str();
}

Event Recorder::await(const std::string& what, const Predicate& accept,
                      std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  std::unique_lock<std::mutex> lock(mutex_);
  size_t checked = 0;
  while (true) {
    for (; checked < events_.size(); ++checked) {
      if (accept(events_[checked])) return events_[checked];
    }
    if (changed_.wait_until(lock, end) == std::cv_status::timeout && checked == events_.size()) {
      lock.unlock();
      throw WaitTimeout("timed out after " + std::to_string(deadline.count()) + " ms waiting for " +
                        what + "; events: " + describe());
    }
  }
}

Event Recorder::await(const std::string& name) {
  return await(name, [&](const Event& event) { return event.name == name; });
}

mesos::TaskStatus Recorder::awaitState(const std::string& taskId, mesos::TaskState state) {
  return await(taskId + " " + mesos::TaskState_Name(state),
               [&](const Event& event) { return event.isState(taskId, state); })
      .status;
}

mesos::Offer Recorder::awaitOffer(const std::string& what,
                                  const std::function<bool(const mesos::Offer&)>& accept) {
  Event event = await(what, [&](const Event& e) {
    for (const mesos::Offer& offer : e.offers) {
      if (accept(offer)) return true;
    }
    return false;
  });
  for (const mesos::Offer& offer : event.offers) {
    if (accept(offer)) return offer;
  }
  throw std::logic_error("unreachable");
}

mesos::Offer Recorder::firstOffer() {
  return awaitOffer("an offer", [](const mesos::Offer&) { return true; });
}

mesos::FrameworkID Recorder::awaitRegistered() { return await("registered").frameworkId; }

bool Recorder::has(const Predicate& matches) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Event& event : events_) {
    if (matches(event)) return true;
  }
  return false;
}

std::vector<Event> Recorder::events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

std::string Recorder::describe() const {
  std::string out = "[";
  for (const Event& event : events()) {
    out += (out.size() > 1 ? ", " : "") + event.describe();
  }
  return out + "]";
}

int Recorder::offerCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return offers_;
}

void Recorder::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  events_.clear();
  offers_ = 0;
}

void Recorder::add(Event event) {
  std::lock_guard<std::mutex> lock(mutex_);
  offers_ += static_cast<int>(event.offers.size());
  events_.push_back(std::move(event));
  changed_.notify_all();
}

void Recorder::registered(mesos::SchedulerDriver*, const mesos::FrameworkID& frameworkId,
                          const mesos::MasterInfo& masterInfo) {
  Event event("registered");
  event.frameworkId = frameworkId;
  event.masterInfo = masterInfo;
  add(std::move(event));
}

void Recorder::reregistered(mesos::SchedulerDriver*, const mesos::MasterInfo& masterInfo) {
  Event event("reregistered");
  event.masterInfo = masterInfo;
  add(std::move(event));
}

void Recorder::disconnected(mesos::SchedulerDriver*) { add(Event("disconnected")); }

void Recorder::resourceOffers(mesos::SchedulerDriver*, const std::vector<mesos::Offer>& offers) {
  Event event("resourceOffers");
  event.offers = offers;
  add(std::move(event));
}

void Recorder::offerRescinded(mesos::SchedulerDriver*, const mesos::OfferID& offerId) {
  Event event("offerRescinded");
  event.offerId = offerId;
  add(std::move(event));
}

void Recorder::statusUpdate(mesos::SchedulerDriver*, const mesos::TaskStatus& status) {
  Event event("statusUpdate");
  event.status = status;
  add(std::move(event));
}

void Recorder::frameworkMessage(mesos::SchedulerDriver*, const mesos::ExecutorID& executorId,
                                const mesos::SlaveID& slaveId, const std::string& data) {
  Event event("frameworkMessage");
  event.executorId = executorId;
  event.slaveId = slaveId;
  event.data = data;
  add(std::move(event));
}

void Recorder::slaveLost(mesos::SchedulerDriver*, const mesos::SlaveID& slaveId) {
  Event event("slaveLost");
  event.slaveId = slaveId;
  add(std::move(event));
}

void Recorder::executorLost(mesos::SchedulerDriver*, const mesos::ExecutorID& executorId,
                            const mesos::SlaveID& slaveId, int status) {
  Event event("executorLost");
  event.executorId = executorId;
  event.slaveId = slaveId;
  event.exitStatus = status;
  add(std::move(event));
}

void Recorder::error(mesos::SchedulerDriver*, const std::string& message) {
  Event event("error");
  event.data = message;
  add(std::move(event));
}

mesos::FrameworkInfo framework(const std::string& name, double failoverTimeout) {
  mesos::FrameworkInfo info;
  info.set_user("");
  info.set_name(name);
  info.set_failover_timeout(failoverTimeout);
  return info;
}

mesos::FrameworkInfo withRoles(mesos::FrameworkInfo framework,
                               const std::vector<std::string>& roles) {
  for (const std::string& role : roles) framework.add_roles(role);
  framework.add_capabilities()->set_type(mesos::FrameworkInfo::Capability::MULTI_ROLE);
  return framework;
}

mesos::Resource scalar(const std::string& name, double value) {
  mesos::Resource resource;
  resource.set_name(name);
  resource.set_type(mesos::Value::SCALAR);
  resource.mutable_scalar()->set_value(value);
  return resource;
}

double scalarSum(const mesos::Offer& offer, const std::string& name) {
  double total = 0;
  for (const mesos::Resource& resource : offer.resources()) {
    if (resource.name() == name) total += resource.scalar().value();
  }
  return total;
}

std::string role(const mesos::Offer& offer) {
  return offer.resources_size() > 0 ? offer.resources(0).allocation_info().role() : "";
}

mesos::Filters refuse(double seconds) {
  mesos::Filters filters;
  filters.set_refuse_seconds(seconds);
  return filters;
}

mesos::TaskID taskId(const std::string& id) {
  mesos::TaskID taskId;
  taskId.set_value(id);
  return taskId;
}

mesos::TaskInfo task(const std::string& id, const mesos::Offer& offer, const std::string& command) {
  mesos::TaskInfo task;
  task.set_name(id);
  task.mutable_task_id()->set_value(id);
  task.mutable_slave_id()->CopyFrom(offer.slave_id());
  *task.add_resources() = scalar("cpus", 0.1);
  *task.add_resources() = scalar("mem", 32);
  task.mutable_command()->set_value(command);
  return task;
}

mesos::TaskInfo executorTask(const std::string& id, const mesos::Offer& offer,
                             const mesos::ExecutorInfo& executor, const std::string& data) {
  mesos::TaskInfo info = task(id, offer, "unused");
  info.clear_command();
  info.mutable_executor()->CopyFrom(executor);
  if (!data.empty()) info.set_data(data);
  return info;
}

mesos::ExecutorInfo executorInfo(const std::string& id, const std::string& command) {
  mesos::ExecutorInfo executor;
  executor.mutable_executor_id()->set_value(id);
  executor.mutable_command()->set_value(command);
  *executor.add_resources() = scalar("cpus", 0.1);
  *executor.add_resources() = scalar("mem", 32);
  return executor;
}

mesos::Offer::Operation launch(const std::vector<mesos::TaskInfo>& tasks) {
  mesos::Offer::Operation operation;
  operation.set_type(mesos::Offer::Operation::LAUNCH);
  for (const mesos::TaskInfo& task : tasks) {
    operation.mutable_launch()->add_task_infos()->CopyFrom(task);
  }
  return operation;
}

mesos::Credential credential(const std::string& principal) {
  mesos::Credential credential;
  credential.set_principal(principal);
  credential.set_secret("s3cret");
  return credential;
}

mesos::ExecutorInfo recordingExecutor(const std::string& id, const std::string& record) {
  mesos::ExecutorInfo executor = executorInfo(id, "'" + recordingExecutorPath() + "'");
  mesos::Environment::Variable* variable =
      executor.mutable_command()->mutable_environment()->add_variables();
  variable->set_name("RECORD_TO");
  variable->set_value(record);
  return executor;
}

std::string describeLines(const std::string& record) {
  std::string out = "[";
  for (const std::string& line : readLines(record)) {
    out += (out.size() > 1 ? " | " : "") + line;
  }
  return out + "]";
}

void awaitLine(const std::string& record, const std::string& line) {
  try {
    waitFor("the executor to record \"" + line + "\"", [&] {
      for (const std::string& seen : readLines(record)) {
        if (seen == line) return true;
      }
      return false;
    });
  } catch (const WaitTimeout& timeout) {
    throw WaitTimeout(std::string(timeout.what()) + "; it has " + describeLines(record));
  }
}

std::string awaitLineStartingWith(const std::string& record, const std::string& prefix) {
  std::string found;
  try {
    waitFor("the executor to record \"" + prefix + "...\"", [&] {
      for (const std::string& seen : readLines(record)) {
        if (seen.compare(0, prefix.size(), prefix) == 0) {
          found = seen;
          return true;
        }
      }
      return false;
    });
  } catch (const WaitTimeout& timeout) {
    throw WaitTimeout(std::string(timeout.what()) + "; it has " + describeLines(record));
  }
  return found;
}

int exitCode(int waitStatus) { return WIFEXITED(waitStatus) ? WEXITSTATUS(waitStatus) : -1; }

}  // namespace meseta_test
