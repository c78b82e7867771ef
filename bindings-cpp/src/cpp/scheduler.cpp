// mesos::MesosSchedulerDriver on Meseta's Rust client core, and the sink
// that brings the core's callbacks back to the mesos::Scheduler.
#include <exception>
#include <iostream>
#include <mesos/scheduler.hpp>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "gate.hpp"
#include "meseta-cpp/src/lib.rs.h"

namespace meseta {
namespace bridge {

// Scheduler callbacks: parses each message and calls the user's mesos::Scheduler,
// catching whatever it throws (reported through error()).
class SchedulerCallbacks final : public SchedulerSink {
 public:
  SchedulerCallbacks(mesos::Scheduler* scheduler, mesos::SchedulerDriver* driver,
                     std::shared_ptr<Gate> gate);

  void registered(Bytes framework_id, Bytes master_info) const override;
  void reregistered(Bytes master_info) const override;
  void disconnected() const override;
  void resource_offers(rust::Slice<const Bytes> offers) const override;
  void offer_rescinded(Bytes offer_id) const override;
  void status_update(Bytes status) const override;
  void framework_message(Bytes executor_id, Bytes agent_id, Bytes data) const override;
  void slave_lost(Bytes agent_id) const override;
  void executor_lost(Bytes executor_id, Bytes agent_id, std::int32_t status) const override;
  void error(rust::Str message) const override;

 private:
  template <typename Call>
  void deliver(const char* callback, Call call) const;

  mesos::Scheduler* scheduler_;
  mesos::SchedulerDriver* driver_;
  std::shared_ptr<Gate> gate_;
};

SchedulerCallbacks::SchedulerCallbacks(mesos::Scheduler* scheduler, mesos::SchedulerDriver* driver,
                                       std::shared_ptr<Gate> gate)
    : scheduler_(scheduler), driver_(driver), gate_(std::move(gate)) {}

template <typename Call>
void SchedulerCallbacks::deliver(const char* callback, Call call) const {
  Gate::deliver(*gate_, "Scheduler", callback, call,
                [this](const std::string& message) { scheduler_->error(driver_, message); });
}

void SchedulerCallbacks::registered(Bytes framework_id, Bytes master_info) const {
  deliver("registered", [&] {
    scheduler_->registered(driver_, convert::parse<mesos::FrameworkID>(framework_id),
                           convert::parse<mesos::MasterInfo>(master_info));
  });
}

void SchedulerCallbacks::reregistered(Bytes master_info) const {
  deliver("reregistered", [&] {
    scheduler_->reregistered(driver_, convert::parse<mesos::MasterInfo>(master_info));
  });
}

void SchedulerCallbacks::disconnected() const {
  deliver("disconnected", [&] { scheduler_->disconnected(driver_); });
}

void SchedulerCallbacks::resource_offers(rust::Slice<const Bytes> offers) const {
  deliver("resourceOffers", [&] {
    std::vector<mesos::Offer> parsed;
    parsed.reserve(offers.size());
    for (Bytes offer : offers) {
      parsed.push_back(convert::parse<mesos::Offer>(offer));
    }
    scheduler_->resourceOffers(driver_, parsed);
  });
}

void SchedulerCallbacks::offer_rescinded(Bytes offer_id) const {
  deliver("offerRescinded",
          [&] { scheduler_->offerRescinded(driver_, convert::parse<mesos::OfferID>(offer_id)); });
}

void SchedulerCallbacks::status_update(Bytes status) const {
  deliver("statusUpdate",
          [&] { scheduler_->statusUpdate(driver_, convert::parse<mesos::TaskStatus>(status)); });
}

void SchedulerCallbacks::framework_message(Bytes executor_id, Bytes agent_id, Bytes data) const {
  deliver("frameworkMessage", [&] {
    scheduler_->frameworkMessage(
        driver_, convert::parse<mesos::ExecutorID>(executor_id),
        convert::parse<mesos::SlaveID>(agent_id),
        std::string(reinterpret_cast<const char*>(data.data()), data.size()));
  });
}

void SchedulerCallbacks::slave_lost(Bytes agent_id) const {
  deliver("slaveLost",
          [&] { scheduler_->slaveLost(driver_, convert::parse<mesos::SlaveID>(agent_id)); });
}

void SchedulerCallbacks::executor_lost(Bytes executor_id, Bytes agent_id,
                                       std::int32_t status) const {
  deliver("executorLost", [&] {
    scheduler_->executorLost(driver_, convert::parse<mesos::ExecutorID>(executor_id),
                             convert::parse<mesos::SlaveID>(agent_id), status);
  });
}

void SchedulerCallbacks::error(rust::Str message) const {
  deliver("error", [&] { scheduler_->error(driver_, std::string(message)); });
}

}  // namespace bridge
}  // namespace meseta

namespace mesos {

struct MesosSchedulerDriver::Impl {
  std::shared_ptr<meseta::bridge::Gate> gate;
  rust::Box<meseta::bridge::RustSchedulerDriver> rust;

  Status status() const { return static_cast<Status>(rust->status()); }

  // A call whose arguments the core could not decode changes nothing.
  template <typename Call>
  Status guarded(const char* method, Call call) const {
    return meseta::convert::guarded(
        method, [&] { return static_cast<Status>(call()); }, [&] { return status(); });
  }
};

namespace {

rust::Box<meseta::bridge::RustSchedulerDriver> makeDriver(
    Scheduler* scheduler, SchedulerDriver* driver,
    const std::shared_ptr<meseta::bridge::Gate>& gate, const FrameworkInfo& framework,
    const std::vector<std::string>& suppressedRoles, const std::string& master,
    bool implicitAcknowledgements, const Credential* credential) {
  if (scheduler == nullptr) {
    throw std::invalid_argument("MesosSchedulerDriver: the scheduler must not be null");
  }
  std::string frameworkBytes = meseta::convert::serialize(framework);
  std::string credentialBytes =
      credential != nullptr ? meseta::convert::serialize(*credential) : std::string();
  meseta::convert::Strings roles(suppressedRoles);
  return meseta::bridge::new_scheduler_driver(
      std::make_unique<meseta::bridge::SchedulerCallbacks>(scheduler, driver, gate), master,
      meseta::convert::view(frameworkBytes), roles.slice(), implicitAcknowledgements,
      meseta::convert::view(credentialBytes));
}

}  // namespace

MesosSchedulerDriver::MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                                           const std::string& master)
    : MesosSchedulerDriver(scheduler, framework, {}, master, true) {}

MesosSchedulerDriver::MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                                           const std::string& master, const Credential& credential)
    : MesosSchedulerDriver(scheduler, framework, {}, master, true, credential) {}

MesosSchedulerDriver::MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                                           const std::string& master, bool implicitAcknowledgements)
    : MesosSchedulerDriver(scheduler, framework, {}, master, implicitAcknowledgements) {}

MesosSchedulerDriver::MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                                           const std::string& master, bool implicitAcknowledgements,
                                           const Credential& credential)
    : MesosSchedulerDriver(scheduler, framework, {}, master, implicitAcknowledgements, credential) {
}

MesosSchedulerDriver::MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                                           const std::vector<std::string>& suppressedRoles,
                                           const std::string& master,
                                           bool implicitAcknowledgements) {
  auto gate = std::make_shared<meseta::bridge::Gate>();
  impl_.reset(new Impl{gate, makeDriver(scheduler, this, gate, framework, suppressedRoles, master,
                                        implicitAcknowledgements, nullptr)});
}

MesosSchedulerDriver::MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                                           const std::vector<std::string>& suppressedRoles,
                                           const std::string& master, bool implicitAcknowledgements,
                                           const Credential& credential) {
  auto gate = std::make_shared<meseta::bridge::Gate>();
  impl_.reset(new Impl{gate, makeDriver(scheduler, this, gate, framework, suppressedRoles, master,
                                        implicitAcknowledgements, &credential)});
}

MesosSchedulerDriver::~MesosSchedulerDriver() {
  // A callback in progress ends first (it sees the status it expects);
  // then a running driver disconnects (as stop(true)), every callback
  // queued so far is delivered (the error of a fatal abort above all), and
  // none starts any more.
  impl_->gate->awaitIdle();
  impl_->rust->close();
  impl_->gate->close();
}

Status MesosSchedulerDriver::start() { return static_cast<Status>(impl_->rust->start()); }

Status MesosSchedulerDriver::stop(bool failover) {
  return static_cast<Status>(impl_->rust->stop(failover));
}

Status MesosSchedulerDriver::abort() { return static_cast<Status>(impl_->rust->abort()); }

Status MesosSchedulerDriver::join() { return static_cast<Status>(impl_->rust->join()); }

Status MesosSchedulerDriver::run() {
  Status status = start();
  return status == DRIVER_RUNNING ? join() : status;
}

Status MesosSchedulerDriver::requestResources(const std::vector<Request>& requests) {
  meseta::convert::List list(requests);
  return impl_->guarded("requestResources",
                        [&] { return impl_->rust->request_resources(list.slice()); });
}

Status MesosSchedulerDriver::launchTasks(const std::vector<OfferID>& offerIds,
                                         const std::vector<TaskInfo>& tasks,
                                         const Filters& filters) {
  meseta::convert::List offers(offerIds);
  meseta::convert::List taskList(tasks);
  std::string filterBytes = meseta::convert::serialize(filters);
  return impl_->guarded("launchTasks", [&] {
    return impl_->rust->launch_tasks(offers.slice(), taskList.slice(),
                                     meseta::convert::view(filterBytes));
  });
}

Status MesosSchedulerDriver::launchTasks(const OfferID& offerId, const std::vector<TaskInfo>& tasks,
                                         const Filters& filters) {
  return launchTasks(std::vector<OfferID>{offerId}, tasks, filters);
}

Status MesosSchedulerDriver::killTask(const TaskID& taskId) {
  std::string bytes = meseta::convert::serialize(taskId);
  return impl_->guarded("killTask",
                        [&] { return impl_->rust->kill_task(meseta::convert::view(bytes)); });
}

Status MesosSchedulerDriver::acceptOffers(const std::vector<OfferID>& offerIds,
                                          const std::vector<Offer::Operation>& operations,
                                          const Filters& filters) {
  meseta::convert::List offers(offerIds);
  meseta::convert::List operationList(operations);
  std::string filterBytes = meseta::convert::serialize(filters);
  return impl_->guarded("acceptOffers", [&] {
    return impl_->rust->accept_offers(offers.slice(), operationList.slice(),
                                      meseta::convert::view(filterBytes));
  });
}

Status MesosSchedulerDriver::declineOffer(const OfferID& offerId, const Filters& filters) {
  std::string offerBytes = meseta::convert::serialize(offerId);
  std::string filterBytes = meseta::convert::serialize(filters);
  return impl_->guarded("declineOffer", [&] {
    return impl_->rust->decline_offer(meseta::convert::view(offerBytes),
                                      meseta::convert::view(filterBytes));
  });
}

Status MesosSchedulerDriver::reviveOffers() { return reviveOffers(std::vector<std::string>()); }

Status MesosSchedulerDriver::reviveOffers(const std::vector<std::string>& roles) {
  meseta::convert::Strings list(roles);
  return static_cast<Status>(impl_->rust->revive_offers(list.slice()));
}

Status MesosSchedulerDriver::suppressOffers() { return suppressOffers(std::vector<std::string>()); }

Status MesosSchedulerDriver::suppressOffers(const std::vector<std::string>& roles) {
  meseta::convert::Strings list(roles);
  return static_cast<Status>(impl_->rust->suppress_offers(list.slice()));
}

Status MesosSchedulerDriver::acknowledgeStatusUpdate(const TaskStatus& status) {
  std::string bytes = meseta::convert::serialize(status);
  return impl_->guarded("acknowledgeStatusUpdate", [&] {
    return impl_->rust->acknowledge_status_update(meseta::convert::view(bytes));
  });
}

Status MesosSchedulerDriver::sendFrameworkMessage(const ExecutorID& executorId,
                                                  const SlaveID& slaveId, const std::string& data) {
  std::string executorBytes = meseta::convert::serialize(executorId);
  std::string agentBytes = meseta::convert::serialize(slaveId);
  return impl_->guarded("sendFrameworkMessage", [&] {
    return impl_->rust->send_framework_message(meseta::convert::view(executorBytes),
                                               meseta::convert::view(agentBytes),
                                               meseta::convert::view(data));
  });
}

Status MesosSchedulerDriver::reconcileTasks(const std::vector<TaskStatus>& statuses) {
  meseta::convert::List list(statuses);
  return impl_->guarded("reconcileTasks",
                        [&] { return impl_->rust->reconcile_tasks(list.slice()); });
}

Status MesosSchedulerDriver::updateFramework(const FrameworkInfo& frameworkInfo,
                                             const std::vector<std::string>& suppressedRoles,
                                             ::mesos::scheduler::OfferConstraints&& constraints) {
  if (constraints.ByteSizeLong() > 0) {
    std::cerr << "meseta: updateFramework: offer constraints are not supported yet; ignored"
              << std::endl;
  }
  std::string bytes = meseta::convert::serialize(frameworkInfo);
  meseta::convert::Strings roles(suppressedRoles);
  return impl_->guarded("updateFramework", [&] {
    return impl_->rust->update_framework(meseta::convert::view(bytes), roles.slice());
  });
}

}  // namespace mesos
