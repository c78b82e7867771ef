// Meseta's C++ scheduler API, the same as Mesos's <mesos/scheduler.hpp>:
// implement mesos::Scheduler and run it with a mesos::MesosSchedulerDriver.
// The driver is Meseta's Rust client core (the v1 scheduler HTTP API), so
// it works against Meseta and Apache Mesos masters alike.
#pragma once

#include <mesos/scheduler/scheduler.pb.h>  // IWYU pragma: export

#include <memory>
#include <mesos/mesos.hpp>
#include <string>
#include <vector>

namespace mesos {

class SchedulerDriver;

// The callbacks of a framework's scheduler. The driver calls them one at a
// time on its own thread; a callback may call the driver (but not join or
// run). An exception thrown by a callback is caught, printed, and reported
// through error(); the driver goes on.
class Scheduler {
 public:
  virtual ~Scheduler() {}

  // Subscribed for the first time; frameworkId is the framework's ID.
  virtual void registered(SchedulerDriver* driver, const FrameworkID& frameworkId,
                          const MasterInfo& masterInfo) = 0;

  // Subscribed again (a new leading master, or a broken connection).
  virtual void reregistered(SchedulerDriver* driver, const MasterInfo& masterInfo) = 0;

  // The connection to the master is gone; the driver is looking for one.
  virtual void disconnected(SchedulerDriver* driver) = 0;

  // New offers, each valid until used, declined or rescinded.
  virtual void resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) = 0;

  // An offer is no longer valid.
  virtual void offerRescinded(SchedulerDriver* driver, const OfferID& offerId) = 0;

  // A task changed state. Returning acknowledges the update, unless the
  // driver was built with implicit acknowledgements off.
  virtual void statusUpdate(SchedulerDriver* driver, const TaskStatus& status) = 0;

  // Bytes an executor sent (best-effort delivery).
  virtual void frameworkMessage(SchedulerDriver* driver, const ExecutorID& executorId,
                                const SlaveID& slaveId, const std::string& data) = 0;

  // An agent is lost; its offers are rescinded.
  virtual void slaveLost(SchedulerDriver* driver, const SlaveID& slaveId) = 0;

  // An executor ended with the given wait status.
  virtual void executorLost(SchedulerDriver* driver, const ExecutorID& executorId,
                            const SlaveID& slaveId, int status) = 0;

  // A call was refused, or an unrecoverable error happened (then the
  // driver is aborted first).
  virtual void error(SchedulerDriver* driver, const std::string& message) = 0;
};

// A framework's handle on the master. Every method is thread-safe and
// returns at once with the driver's status: DRIVER_RUNNING when the request
// was queued, otherwise the status that prevented it.
class SchedulerDriver {
 public:
  virtual ~SchedulerDriver() {}

  virtual Status start() = 0;
  // failover = false tears the framework down; true keeps it registered for
  // its failover timeout, for a new driver to take over.
  virtual Status stop(bool failover = false) = 0;
  virtual Status abort() = 0;
  virtual Status join() = 0;
  virtual Status run() = 0;
  virtual Status requestResources(const std::vector<Request>& requests) = 0;
  virtual Status launchTasks(const std::vector<OfferID>& offerIds,
                             const std::vector<TaskInfo>& tasks,
                             const Filters& filters = Filters()) = 0;
  virtual Status launchTasks(const OfferID& offerId, const std::vector<TaskInfo>& tasks,
                             const Filters& filters = Filters()) = 0;
  virtual Status killTask(const TaskID& taskId) = 0;
  virtual Status acceptOffers(const std::vector<OfferID>& offerIds,
                              const std::vector<Offer::Operation>& operations,
                              const Filters& filters = Filters()) = 0;
  virtual Status declineOffer(const OfferID& offerId, const Filters& filters = Filters()) = 0;
  virtual Status reviveOffers() = 0;
  virtual Status reviveOffers(const std::vector<std::string>& roles) = 0;
  virtual Status suppressOffers() = 0;
  virtual Status suppressOffers(const std::vector<std::string>& roles) = 0;
  virtual Status acknowledgeStatusUpdate(const TaskStatus& status) = 0;
  virtual Status sendFrameworkMessage(const ExecutorID& executorId, const SlaveID& slaveId,
                                      const std::string& data) = 0;
  // An empty list asks for every task of the framework.
  virtual Status reconcileTasks(const std::vector<TaskStatus>& statuses) = 0;
  virtual Status updateFramework(const FrameworkInfo& frameworkInfo,
                                 const std::vector<std::string>& suppressedRoles,
                                 ::mesos::scheduler::OfferConstraints&& offerConstraints) = 0;
};

// The SchedulerDriver on Meseta's client core. master is "host:port",
// "zk://host1:port1,.../path" or "file:///path/to/file".
class MesosSchedulerDriver : public SchedulerDriver {
 public:
  MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                       const std::string& master);
  MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                       const std::string& master, const Credential& credential);
  MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                       const std::string& master, bool implicitAcknowledgements);
  MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                       const std::string& master, bool implicitAcknowledgements,
                       const Credential& credential);
  MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                       const std::vector<std::string>& suppressedRoles, const std::string& master,
                       bool implicitAcknowledgements);
  MesosSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                       const std::vector<std::string>& suppressedRoles, const std::string& master,
                       bool implicitAcknowledgements, const Credential& credential);

  // A driver destroyed while running disconnects as stop(true) would, and
  // waits until no callback is running.
  ~MesosSchedulerDriver() override;

  MesosSchedulerDriver(const MesosSchedulerDriver&) = delete;
  MesosSchedulerDriver& operator=(const MesosSchedulerDriver&) = delete;

  Status start() override;
  Status stop(bool failover = false) override;
  Status abort() override;
  Status join() override;
  Status run() override;
  Status requestResources(const std::vector<Request>& requests) override;
  Status launchTasks(const std::vector<OfferID>& offerIds, const std::vector<TaskInfo>& tasks,
                     const Filters& filters = Filters()) override;
  Status launchTasks(const OfferID& offerId, const std::vector<TaskInfo>& tasks,
                     const Filters& filters = Filters()) override;
  Status killTask(const TaskID& taskId) override;
  Status acceptOffers(const std::vector<OfferID>& offerIds,
                      const std::vector<Offer::Operation>& operations,
                      const Filters& filters = Filters()) override;
  Status declineOffer(const OfferID& offerId, const Filters& filters = Filters()) override;
  Status reviveOffers() override;
  Status reviveOffers(const std::vector<std::string>& roles) override;
  Status suppressOffers() override;
  Status suppressOffers(const std::vector<std::string>& roles) override;
  Status acknowledgeStatusUpdate(const TaskStatus& status) override;
  Status sendFrameworkMessage(const ExecutorID& executorId, const SlaveID& slaveId,
                              const std::string& data) override;
  Status reconcileTasks(const std::vector<TaskStatus>& statuses) override;
  Status updateFramework(const FrameworkInfo& frameworkInfo,
                         const std::vector<std::string>& suppressedRoles,
                         ::mesos::scheduler::OfferConstraints&& offerConstraints) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mesos
