// mesos::MesosExecutorDriver on Meseta's Rust client core, and the sink
// that brings the core's callbacks back to the mesos::Executor.
#include <exception>
#include <iostream>
#include <mesos/executor.hpp>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "convert.hpp"
#include "gate.hpp"
#include "meseta-cpp/src/lib.rs.h"

namespace meseta {
namespace bridge {

// Executor callbacks: parses each message and calls the user's mesos::Executor,
// catching whatever it throws (reported through error()).
class ExecutorCallbacks final : public ExecutorSink {
 public:
  ExecutorCallbacks(mesos::Executor* executor, mesos::ExecutorDriver* driver,
                    std::shared_ptr<Gate> gate);

  void registered(Bytes executor_info, Bytes framework_info, Bytes agent_info) const override;
  void reregistered(Bytes agent_info) const override;
  void disconnected() const override;
  void launch_task(Bytes task) const override;
  void kill_task(Bytes task_id) const override;
  void framework_message(Bytes data) const override;
  void shutdown() const override;
  void error(rust::Str message) const override;

 private:
  template <typename Call>
  void deliver(const char* callback, Call call) const;

  mesos::Executor* executor_;
  mesos::ExecutorDriver* driver_;
  std::shared_ptr<Gate> gate_;
};

ExecutorCallbacks::ExecutorCallbacks(mesos::Executor* executor, mesos::ExecutorDriver* driver,
                                     std::shared_ptr<Gate> gate)
    : executor_(executor), driver_(driver), gate_(std::move(gate)) {}

template <typename Call>
void ExecutorCallbacks::deliver(const char* callback, Call call) const {
  Gate::deliver(*gate_, "Executor", callback, call,
                [this](const std::string& message) { executor_->error(driver_, message); });
}

void ExecutorCallbacks::registered(Bytes executor_info, Bytes framework_info,
                                   Bytes agent_info) const {
  deliver("registered", [&] {
    executor_->registered(driver_, convert::parse<mesos::ExecutorInfo>(executor_info),
                          convert::parse<mesos::FrameworkInfo>(framework_info),
                          convert::parse<mesos::SlaveInfo>(agent_info));
  });
}

void ExecutorCallbacks::reregistered(Bytes agent_info) const {
  deliver("reregistered",
          [&] { executor_->reregistered(driver_, convert::parse<mesos::SlaveInfo>(agent_info)); });
}

void ExecutorCallbacks::disconnected() const {
  deliver("disconnected", [&] { executor_->disconnected(driver_); });
}

void ExecutorCallbacks::launch_task(Bytes task) const {
  deliver("launchTask",
          [&] { executor_->launchTask(driver_, convert::parse<mesos::TaskInfo>(task)); });
}

void ExecutorCallbacks::kill_task(Bytes task_id) const {
  deliver("killTask",
          [&] { executor_->killTask(driver_, convert::parse<mesos::TaskID>(task_id)); });
}

void ExecutorCallbacks::framework_message(Bytes data) const {
  deliver("frameworkMessage", [&] {
    executor_->frameworkMessage(
        driver_, std::string(reinterpret_cast<const char*>(data.data()), data.size()));
  });
}

void ExecutorCallbacks::shutdown() const {
  deliver("shutdown", [&] { executor_->shutdown(driver_); });
}

void ExecutorCallbacks::error(rust::Str message) const {
  deliver("error", [&] { executor_->error(driver_, std::string(message)); });
}

}  // namespace bridge
}  // namespace meseta

namespace mesos {

struct MesosExecutorDriver::Impl {
  std::shared_ptr<meseta::bridge::Gate> gate;
  rust::Box<meseta::bridge::RustExecutorDriver> rust;
};

MesosExecutorDriver::MesosExecutorDriver(Executor* executor) {
  if (executor == nullptr) {
    throw std::invalid_argument("MesosExecutorDriver: the executor must not be null");
  }
  auto gate = std::make_shared<meseta::bridge::Gate>();
  impl_.reset(new Impl{
      gate, meseta::bridge::new_executor_driver(
                std::make_unique<meseta::bridge::ExecutorCallbacks>(executor, this, gate))});
}

MesosExecutorDriver::~MesosExecutorDriver() {
  // A callback in progress ends first; then the driver stops, every
  // callback queued so far is delivered (the error of a fatal abort above
  // all), and none starts any more.
  impl_->gate->awaitIdle();
  impl_->rust->close();
  impl_->gate->close();
}

Status MesosExecutorDriver::start() { return static_cast<Status>(impl_->rust->start()); }

Status MesosExecutorDriver::stop() { return static_cast<Status>(impl_->rust->stop()); }

Status MesosExecutorDriver::abort() { return static_cast<Status>(impl_->rust->abort()); }

Status MesosExecutorDriver::join() { return static_cast<Status>(impl_->rust->join()); }

Status MesosExecutorDriver::run() {
  Status status = start();
  return status == DRIVER_RUNNING ? join() : status;
}

Status MesosExecutorDriver::sendStatusUpdate(const TaskStatus& status) {
  std::string bytes = meseta::convert::serialize(status);
  return meseta::convert::guarded(
      "sendStatusUpdate",
      [&] {
        return static_cast<Status>(impl_->rust->send_status_update(meseta::convert::view(bytes)));
      },
      [&] { return static_cast<Status>(impl_->rust->status()); });
}

Status MesosExecutorDriver::sendFrameworkMessage(const std::string& data) {
  return static_cast<Status>(impl_->rust->send_framework_message(meseta::convert::view(data)));
}

}  // namespace mesos
