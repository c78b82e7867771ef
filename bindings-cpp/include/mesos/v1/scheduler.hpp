// Meseta's v1 scheduler library, the same as Mesos's <mesos/v1/scheduler.hpp>:
// the framework speaks the v1 scheduler API itself. It sends Calls (SUBSCRIBE
// first, after each `connected`) and receives every Event, INVERSE_OFFERS
// and UPDATE_OPERATION_STATUS included, which the v0 driver has no callback
// for. The library finds the leading master (host:port, http://... or
// zk://...), keeps the connection, and says when it is made or lost.
#pragma once

#include <functional>
#include <memory>
#include <mesos/http.hpp>
#include <mesos/v1/mesos.hpp>
#include <mesos/v1/scheduler/scheduler.hpp>
#include <queue>
#include <string>

namespace mesos {
namespace v1 {
namespace scheduler {

// The three callbacks run one at a time, in order, on the library's own
// thread: `connected` when a leading master is found (send SUBSCRIBE then,
// with the framework's ID if it has one), `disconnected` when the
// connection or the subscription is lost (`connected` follows once a master
// is found again), `received` with events in the order the master sent
// them. A refused SUBSCRIBE arrives as an ERROR event before `disconnected`.
// A callback may call send() and reconnect(). The first one may start
// before the constructor's caller has stored the new object: a callback that
// reaches it through the caller's variable must wait for that. What a
// callback throws is printed and otherwise ignored.
class Mesos {
 public:
  Mesos(const std::string& master, ContentType contentType, const std::function<void()>& connected,
        const std::function<void()>& disconnected,
        const std::function<void(const std::queue<Event>&)>& received);

  // The same, authenticating every request with `credential` (HTTP basic).
  Mesos(const std::string& master, ContentType contentType, const std::function<void()>& connected,
        const std::function<void()>& disconnected,
        const std::function<void(const std::queue<Event>&)>& received,
        const ::mesos::v1::Credential& credential);

  Mesos(const Mesos&) = delete;
  Mesos& operator=(const Mesos&) = delete;

  // Closes the connection; no callback runs after it returns (called from
  // a callback, that callback finishes first).
  virtual ~Mesos();

  // Sends a call to the master: SUBSCRIBE opens the event stream; the
  // others go with its stream ID. A call sent while disconnected (before
  // `connected`) is dropped, as Mesos's library drops it.
  virtual void send(const Call& call);

  // Drops the connection and finds the master again: `disconnected`, then
  // `connected`. For a framework that stopped seeing HEARTBEAT events.
  virtual void reconnect();

 private:
  struct Impl;

  void start(const std::string& master, ContentType contentType,
             const std::function<void()>& connected, const std::function<void()>& disconnected,
             const std::function<void(const std::queue<Event>&)>& received,
             const ::mesos::v1::Credential* credential);

  std::unique_ptr<Impl> impl_;
};

}  // namespace scheduler
}  // namespace v1
}  // namespace mesos
