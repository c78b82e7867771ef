// The v1 scheduler library (<mesos/v1/scheduler.hpp>): a framework that
// subscribes on `connected`, launches a task from an offer, acknowledges its
// updates, and receives an inverse offer when an operator schedules
// maintenance of the task's machine; the same over JSON; a refused
// subscription as an ERROR event.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mesos/v1/scheduler.hpp>
#include <mutex>
#include <string>

#include "cluster.hpp"

namespace meseta_test {
namespace {

using mesos::v1::scheduler::Call;
using mesos::v1::scheduler::Event;
using mesos::v1::scheduler::Mesos;

// Subscribes whenever it is connected (with its ID once it has one),
// acknowledges updates, and queues every event for the test to wait on.
class Subscriber {
 public:
  explicit Subscriber(std::string role = "*") : role_(std::move(role)) {}

  // The library, started on `master`; the subscriber outlives it.
  void start(const std::string& master, mesos::ContentType contentType) {
    std::lock_guard<std::mutex> lock(starting_);
    mesos_ = std::make_unique<Mesos>(
        master, contentType, [this] { subscribe(); }, [] {},
        [this](const std::queue<Event>& events) { receive(events); });
  }

  // The library; a callback may come before start() stored it.
  Mesos& mesos() {
    std::lock_guard<std::mutex> lock(starting_);
    return *mesos_;
  }

  void send(const Call& call) { mesos().send(call); }

  mesos::v1::FrameworkID id() {
    std::lock_guard<std::mutex> lock(mutex_);
    return id_;
  }

  // The first queued event `accept` takes (earlier ones are dropped).
  Event await(const std::string& what, const std::function<bool(const Event&)>& accept) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::string seen;
    bool found = changed_.wait_for(lock, kDeadline, [&] {
      while (!events_.empty()) {
        Event event = events_.front();
        events_.pop_front();
        seen += Event::Type_Name(event.type()) + " ";
        if (accept(event)) {
          events_.push_front(event);
          return true;
        }
      }
      return false;
    });
    if (!found) throw WaitTimeout("timed out waiting for " + what + "; saw: " + seen);
    Event event = events_.front();
    events_.pop_front();
    return event;
  }

  Event await(Event::Type type) {
    return await(Event::Type_Name(type), [type](const Event& e) { return e.type() == type; });
  }

 private:
  void subscribe() {
    Call call;
    call.set_type(Call::SUBSCRIBE);
    mesos::v1::FrameworkInfo* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_user("");
    info->set_name("cpp-v1");
    info->add_roles(role_);
    info->add_capabilities()->set_type(mesos::v1::FrameworkInfo::Capability::MULTI_ROLE);
    mesos::v1::FrameworkID known = id();
    if (!known.value().empty()) {
      *call.mutable_framework_id() = known;
      *info->mutable_id() = known;
    }
    mesos().send(call);
  }

  void receive(std::queue<Event> events) {
    for (; !events.empty(); events.pop()) {
      const Event& event = events.front();
      if (event.type() == Event::SUBSCRIBED) {
        std::lock_guard<std::mutex> lock(mutex_);
        id_ = event.subscribed().framework_id();
      }
      const mesos::v1::TaskStatus& status = event.update().status();
      if (event.type() == Event::UPDATE && status.has_uuid()) {
        // The v1 API leaves acknowledgements to the framework.
        Call ack;
        ack.set_type(Call::ACKNOWLEDGE);
        *ack.mutable_framework_id() = id();
        *ack.mutable_acknowledge()->mutable_agent_id() = status.agent_id();
        *ack.mutable_acknowledge()->mutable_task_id() = status.task_id();
        ack.mutable_acknowledge()->set_uuid(status.uuid());
        mesos().send(ack);
      }
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(event);
      changed_.notify_all();
    }
  }

  std::string role_;
  std::mutex starting_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Event> events_;
  mesos::v1::FrameworkID id_;
  std::unique_ptr<Mesos> mesos_;  // last: destroyed first, before what its callbacks use
};

mesos::v1::Resource scalar(const std::string& name, double value) {
  mesos::v1::Resource resource;
  resource.set_name(name);
  resource.set_type(mesos::v1::Value::SCALAR);
  resource.mutable_scalar()->set_value(value);
  return resource;
}

Call launch(const mesos::v1::FrameworkID& framework, const mesos::v1::Offer& offer,
            const std::string& taskId, const std::string& command) {
  Call call;
  call.set_type(Call::ACCEPT);
  *call.mutable_framework_id() = framework;
  *call.mutable_accept()->add_offer_ids() = offer.id();
  mesos::v1::Offer::Operation* operation = call.mutable_accept()->add_operations();
  operation->set_type(mesos::v1::Offer::Operation::LAUNCH);
  mesos::v1::TaskInfo* task = operation->mutable_launch()->add_task_infos();
  task->set_name(taskId);
  task->mutable_task_id()->set_value(taskId);
  *task->mutable_agent_id() = offer.agent_id();
  *task->add_resources() = scalar("cpus", 0.1);
  *task->add_resources() = scalar("mem", 32);
  task->mutable_command()->set_value(command);
  return call;
}

bool isState(const Event& event, mesos::v1::TaskState state) {
  return event.type() == Event::UPDATE && event.update().status().state() == state;
}

TEST(V1Scheduler, LaunchesATaskAndReceivesAnInverseOfferForItsAgent) {
  LocalCluster cluster(1);
  Subscriber scheduler;
  scheduler.start(cluster.master(), mesos::ContentType::PROTOBUF);
  scheduler.await(Event::SUBSCRIBED);
  ASSERT_FALSE(scheduler.id().value().empty());
  mesos::v1::Offer offer = scheduler.await(Event::OFFERS).offers().offers(0);

  scheduler.send(launch(scheduler.id(), offer, "steady", "sleep 600"));
  scheduler.await("the task running",
                  [](const Event& e) { return isState(e, mesos::v1::TASK_RUNNING); });

  std::string window = "{\"windows\":[{\"machine_ids\":[{\"hostname\":\"" + offer.hostname() +
                       "\"}],\"unavailability\":{\"start\":{\"nanoseconds\":1000000000}}}]}";
  int status = 0;
  std::string answer = httpPost(cluster.master(), "/maintenance/schedule", window, &status);
  ASSERT_EQ(200, status) << answer;
  Event inverse = scheduler.await(Event::INVERSE_OFFERS);
  ASSERT_GT(inverse.inverse_offers().inverse_offers_size(), 0);
  EXPECT_EQ(offer.agent_id().value(),
            inverse.inverse_offers().inverse_offers(0).agent_id().value());

  Call teardown;
  teardown.set_type(Call::TEARDOWN);
  *teardown.mutable_framework_id() = scheduler.id();
  scheduler.send(teardown);
  cluster.waitForMetric("master/frameworks_active", 0);
}

TEST(V1Scheduler, SpeaksJsonToo) {
  LocalCluster cluster(1);
  Subscriber scheduler;
  scheduler.start(cluster.master(), mesos::ContentType::JSON);
  scheduler.await(Event::SUBSCRIBED);
  mesos::v1::Offer offer = scheduler.await(Event::OFFERS).offers().offers(0);
  scheduler.send(launch(scheduler.id(), offer, "brief", "true"));
  Event finished = scheduler.await(
      "the task finished", [](const Event& e) { return isState(e, mesos::v1::TASK_FINISHED); });
  EXPECT_EQ("brief", finished.update().status().task_id().value());
}

TEST(V1Scheduler, ARefusedSubscriptionArrivesAsAnErrorEvent) {
  LocalCluster cluster(1);
  Subscriber scheduler("not a valid role");
  scheduler.start(cluster.master(), mesos::ContentType::PROTOBUF);
  Event error = scheduler.await(Event::ERROR);
  EXPECT_NE(std::string::npos, error.error().message().find("SUBSCRIBE refused"))
      << error.error().message();
}

TEST(V1Scheduler, RefusesRecordioAsAContentType) {
  EXPECT_THROW(Mesos(
                   "127.0.0.1:1", mesos::ContentType::RECORDIO, [] {}, [] {},
                   [](const std::queue<Event>&) {}),
               std::invalid_argument);
}

}  // namespace
}  // namespace meseta_test
