// Meseta's C++ executor API, the same as Mesos's <mesos/executor.hpp>:
// implement mesos::Executor and run it with a mesos::MesosExecutorDriver in
// the program an ExecutorInfo's command starts. The driver finds its agent
// through the MESOS_* environment the agent sets.
#pragma once

#include <memory>
#include <mesos/mesos.hpp>
#include <string>

namespace mesos {

class ExecutorDriver;

// The callbacks of an executor, called one at a time on the driver's
// thread. launchTask should hand the work to another thread and return.
// An exception thrown by a callback is caught, printed, and reported
// through error(); the driver goes on.
class Executor {
 public:
  virtual ~Executor() {}

  virtual void registered(ExecutorDriver* driver, const ExecutorInfo& executorInfo,
                          const FrameworkInfo& frameworkInfo, const SlaveInfo& slaveInfo) = 0;
  // Subscribed again to a restarted agent.
  virtual void reregistered(ExecutorDriver* driver, const SlaveInfo& slaveInfo) = 0;
  virtual void disconnected(ExecutorDriver* driver) = 0;
  virtual void launchTask(ExecutorDriver* driver, const TaskInfo& task) = 0;
  virtual void killTask(ExecutorDriver* driver, const TaskID& taskId) = 0;
  virtual void frameworkMessage(ExecutorDriver* driver, const std::string& data) = 0;
  // Stop every task and exit.
  virtual void shutdown(ExecutorDriver* driver) = 0;
  virtual void error(ExecutorDriver* driver, const std::string& message) = 0;
};

// An executor's handle on its agent; methods return the driver's status.
class ExecutorDriver {
 public:
  virtual ~ExecutorDriver() {}

  virtual Status start() = 0;
  virtual Status stop() = 0;
  virtual Status abort() = 0;
  virtual Status join() = 0;
  virtual Status run() = 0;
  // The agent retries delivery until the scheduler acknowledges.
  virtual Status sendStatusUpdate(const TaskStatus& status) = 0;
  virtual Status sendFrameworkMessage(const std::string& data) = 0;
};

class MesosExecutorDriver : public ExecutorDriver {
 public:
  explicit MesosExecutorDriver(Executor* executor);

  // A driver destroyed while running stops, and waits until no callback
  // is running.
  ~MesosExecutorDriver() override;

  MesosExecutorDriver(const MesosExecutorDriver&) = delete;
  MesosExecutorDriver& operator=(const MesosExecutorDriver&) = delete;

  Status start() override;
  Status stop() override;
  Status abort() override;
  Status join() override;
  Status run() override;
  Status sendStatusUpdate(const TaskStatus& status) override;
  Status sendFrameworkMessage(const std::string& data) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mesos
