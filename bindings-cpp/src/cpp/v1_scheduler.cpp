// mesos::v1::scheduler::Mesos on Meseta's Rust client core, and the sink
// that brings the library's callbacks back to the framework's functions.
#include <mesos/v1/scheduler.hpp>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "convert.hpp"
#include "gate.hpp"
#include "meseta-cpp/src/lib.rs.h"

namespace meseta {
namespace bridge {

// The v1 callbacks: parses the events and calls the framework's functions,
// printing whatever they throw (the v1 API has no error callback).
class V1SchedulerCallbacks final : public V1SchedulerSink {
 public:
  using Events = std::queue<mesos::v1::scheduler::Event>;

  V1SchedulerCallbacks(std::function<void()> connected, std::function<void()> disconnected,
                       std::function<void(const Events&)> received, std::shared_ptr<Gate> gate)
      : connected_(std::move(connected)),
        disconnected_(std::move(disconnected)),
        received_(std::move(received)),
        gate_(std::move(gate)) {}

  void connected() const override {
    deliver("connected", [&] { connected_(); });
  }

  void disconnected() const override {
    deliver("disconnected", [&] { disconnected_(); });
  }

  void received(rust::Slice<const Bytes> events) const override {
    deliver("received", [&] {
      Events parsed;
      for (Bytes event : events) {
        parsed.push(convert::parse<mesos::v1::scheduler::Event>(event));
      }
      received_(parsed);
    });
  }

 private:
  template <typename Call>
  void deliver(const char* callback, Call call) const {
    Gate::deliver(*gate_, "v1::scheduler::Mesos", callback, call, [](const std::string&) {});
  }

  std::function<void()> connected_;
  std::function<void()> disconnected_;
  std::function<void(const Events&)> received_;
  std::shared_ptr<Gate> gate_;
};

}  // namespace bridge
}  // namespace meseta

namespace mesos {
namespace v1 {
namespace scheduler {

struct Mesos::Impl {
  std::shared_ptr<meseta::bridge::Gate> gate;
  rust::Box<meseta::bridge::RustV1Mesos> rust;
};

void Mesos::start(const std::string& master, ContentType contentType,
                  const std::function<void()>& connected, const std::function<void()>& disconnected,
                  const std::function<void(const std::queue<Event>&)>& received,
                  const Credential* credential) {
  if (contentType == ContentType::RECORDIO) {
    throw std::invalid_argument(
        "v1::scheduler::Mesos: the content type must be PROTOBUF or JSON (RECORDIO is the "
        "framing of the event stream)");
  }
  if (!connected || !disconnected || !received) {
    throw std::invalid_argument("v1::scheduler::Mesos: every callback must be set");
  }
  auto gate = std::make_shared<meseta::bridge::Gate>();
  std::string credentialBytes =
      credential != nullptr ? meseta::convert::serialize(*credential) : std::string();
  auto sink = std::make_unique<meseta::bridge::V1SchedulerCallbacks>(connected, disconnected,
                                                                     received, gate);
  // The first callback waits until this object is whole.
  std::lock_guard<std::recursive_mutex> constructing(gate->mutex);
  impl_.reset(new Impl{
      gate, meseta::bridge::new_v1_mesos(std::move(sink), master, contentType == ContentType::JSON,
                                         meseta::convert::view(credentialBytes))});
}

Mesos::Mesos(const std::string& master, ContentType contentType,
             const std::function<void()>& connected, const std::function<void()>& disconnected,
             const std::function<void(const std::queue<Event>&)>& received) {
  start(master, contentType, connected, disconnected, received, nullptr);
}

Mesos::Mesos(const std::string& master, ContentType contentType,
             const std::function<void()>& connected, const std::function<void()>& disconnected,
             const std::function<void(const std::queue<Event>&)>& received,
             const Credential& credential) {
  start(master, contentType, connected, disconnected, received, &credential);
}

Mesos::~Mesos() {
  // No callback starts after this (one in progress on another thread
  // ends first); then the connection closes and the library's thread ends.
  impl_->gate->close();
  impl_->rust->close();
}

void Mesos::send(const Call& call) {
  std::string bytes = meseta::convert::serialize(call);
  meseta::convert::guarded(
      "v1::scheduler::Mesos::send", [&] { impl_->rust->send(meseta::convert::view(bytes)); },
      [] {});
}

void Mesos::reconnect() { impl_->rust->reconnect(); }

}  // namespace scheduler
}  // namespace v1
}  // namespace mesos
