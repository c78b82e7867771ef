// The C++ side of the cxx bridge to Meseta's Rust client core (src/lib.rs).
//
// A sink receives the core's callbacks as serialized messages; the C++
// half implements it for mesos::Scheduler, mesos::Executor (`mesos.*`
// messages) and mesos::v1::scheduler::Mesos (`mesos.v1.*`).
//
// This header is internal to the binding; applications include
// <mesos/scheduler.hpp> and <mesos/executor.hpp>.
#pragma once

#include <cstdint>

#include "rust/cxx.h"

namespace meseta {
namespace bridge {

using Bytes = rust::Slice<const std::uint8_t>;

// The sinks are interfaces: the Rust library calls them through their
// vtables, so it has no link-time dependency on the C++ half (which
// implements them in src/cpp/), and link order does not matter.
class SchedulerSink {
 public:
  virtual ~SchedulerSink() = default;

  virtual void registered(Bytes framework_id, Bytes master_info) const = 0;
  virtual void reregistered(Bytes master_info) const = 0;
  virtual void disconnected() const = 0;
  virtual void resource_offers(rust::Slice<const Bytes> offers) const = 0;
  virtual void offer_rescinded(Bytes offer_id) const = 0;
  virtual void status_update(Bytes status) const = 0;
  virtual void framework_message(Bytes executor_id, Bytes agent_id, Bytes data) const = 0;
  virtual void slave_lost(Bytes agent_id) const = 0;
  virtual void executor_lost(Bytes executor_id, Bytes agent_id, std::int32_t status) const = 0;
  virtual void error(rust::Str message) const = 0;
};

class ExecutorSink {
 public:
  virtual ~ExecutorSink() = default;

  virtual void registered(Bytes executor_info, Bytes framework_info, Bytes agent_info) const = 0;
  virtual void reregistered(Bytes agent_info) const = 0;
  virtual void disconnected() const = 0;
  virtual void launch_task(Bytes task) const = 0;
  virtual void kill_task(Bytes task_id) const = 0;
  virtual void framework_message(Bytes data) const = 0;
  virtual void shutdown() const = 0;
  virtual void error(rust::Str message) const = 0;
};

class V1SchedulerSink {
 public:
  virtual ~V1SchedulerSink() = default;

  virtual void connected() const = 0;
  virtual void disconnected() const = 0;
  virtual void received(rust::Slice<const Bytes> events) const = 0;
};

}  // namespace bridge
}  // namespace meseta
