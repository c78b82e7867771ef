// An MPI framework: gang-schedules N ranks on the cluster and runs a real
// MPI program (MPICH) across them.
//
//   meseta_mpi_framework --master 127.0.0.1:5050 -n 3 --cpus 0.5 --mem 64 -- /path/to/ring
//
// Gang scheduling: the framework holds the offers it gets until together
// they fit all N ranks (spread over as many agents as possible), and only
// then launches them, all at once. When the held offers cannot fit the gang
// within --gather seconds, it declines them all (with a short filter) and
// waits for new ones: a partial placement never starts.
//
// Launching: mpiexec (Hydra) runs here with the manual launcher: it prints
// one proxy command per rank ("HYDRA_LAUNCH: ..."), and each becomes a task
// on the agent chosen for that rank. The proxies connect back to mpiexec,
// which starts the ranks and forwards their output here.
//
// Failure: a rank task that ends in any state but TASK_FINISHED while the
// job runs, a rank exiting non-zero (each rank runs under a wrapper that
// turns a non-zero exit into SIGKILL, which makes Hydra abort the job), or
// --timeout, tears the job down: mpiexec is killed (its proxies then kill
// their ranks) and every rank task still running is killed. Exit status: 0
// when mpiexec exited 0 and every rank task finished; 1 otherwise.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mesos/scheduler.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mpiexec.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string master;
  int ranks = 2;
  double cpus = 0.5;
  double mem = 64;
  double gather = 3;
  double timeout = 120;
  std::string mpiexec = "mpiexec";
  std::string advertiseIp = "127.0.0.1";
  std::vector<std::string> program;
};

double scalar(const mesos::Offer& offer, const std::string& name) {
  double total = 0;
  for (const mesos::Resource& resource : offer.resources()) {
    if (resource.name() == name && resource.type() == mesos::Value::SCALAR) {
      total += resource.scalar().value();
    }
  }
  return total;
}

mesos::Resource resource(const std::string& name, double value) {
  mesos::Resource out;
  out.set_name(name);
  out.set_type(mesos::Value::SCALAR);
  out.mutable_scalar()->set_value(value);
  return out;
}

bool terminal(mesos::TaskState state) {
  switch (state) {
    case mesos::TASK_FINISHED:
    case mesos::TASK_FAILED:
    case mesos::TASK_KILLED:
    case mesos::TASK_LOST:
    case mesos::TASK_ERROR:
    case mesos::TASK_DROPPED:
    case mesos::TASK_GONE:
    case mesos::TASK_GONE_BY_OPERATOR:
    case mesos::TASK_UNKNOWN:
      return true;
    default:
      return false;
  }
}

class MpiFramework : public mesos::Scheduler {
 public:
  explicit MpiFramework(Options options) : options_(std::move(options)) {
    mpiexec_.onDone([this] {
      std::lock_guard<std::mutex> lock(mutex_);
      changed_.notify_all();
    });
  }

  void registered(mesos::SchedulerDriver*, const mesos::FrameworkID& id,
                  const mesos::MasterInfo&) override {
    std::cout << "registered " << id.value() << "; gang of " << options_.ranks << " ranks ("
              << options_.cpus << " cpus, " << options_.mem << " MB each)" << std::endl;
  }

  void reregistered(mesos::SchedulerDriver*, const mesos::MasterInfo&) override {}
  void disconnected(mesos::SchedulerDriver*) override {}

  void resourceOffers(mesos::SchedulerDriver* driver,
                      const std::vector<mesos::Offer>& offers) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const mesos::Offer& offer : offers) {
      if (launched_ || failure_) {
        mesos::Filters filters;
        filters.set_refuse_seconds(3600);
        driver->declineOffer(offer.id(), filters);
        continue;
      }
      if (held_.empty()) {
        holdingSince_ = Clock::now();
      }
      held_[offer.id().value()] = offer;
    }
    if (!launched_ && !failure_) {
      tryLaunch(driver);
    }
  }

  void offerRescinded(mesos::SchedulerDriver*, const mesos::OfferID& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.erase(id.value());
  }

  void statusUpdate(mesos::SchedulerDriver*, const mesos::TaskStatus& status) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string& id = status.task_id().value();
    if (states_.count(id) == 0) {
      return;
    }
    states_[id] = status.state();
    if (terminal(status.state()) && status.state() != mesos::TASK_FINISHED && !failure_) {
      fail(id + " ended " + mesos::TaskState_Name(status.state()) +
           (status.message().empty() ? "" : ": " + status.message()));
    }
    changed_.notify_all();
  }

  void frameworkMessage(mesos::SchedulerDriver*, const mesos::ExecutorID&, const mesos::SlaveID&,
                        const std::string&) override {}
  void slaveLost(mesos::SchedulerDriver*, const mesos::SlaveID&) override {}
  void executorLost(mesos::SchedulerDriver*, const mesos::ExecutorID&, const mesos::SlaveID&,
                    int) override {}

  void error(mesos::SchedulerDriver*, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    fail("driver error: " + message);
    changed_.notify_all();
  }

  // Runs the job to its end; the process exit status.
  int run(mesos::SchedulerDriver* driver) {
    const Clock::time_point deadline =
        Clock::now() + std::chrono::milliseconds(static_cast<long>(options_.timeout * 1000));
    std::unique_lock<std::mutex> lock(mutex_);
    while (!failure_ && !(launched_ && mpiexec_.done())) {
      if (Clock::now() >= deadline) {
        fail(launched_ ? "the job did not end within --timeout"
                       : "the gang of " + std::to_string(options_.ranks) +
                             " ranks could not be placed within --timeout; nothing was started");
        break;
      }
      if (!launched_ && !held_.empty() &&
          Clock::now() - holdingSince_ > std::chrono::duration<double>(options_.gather)) {
        releaseHeld(driver);
      }
      changed_.wait_for(lock, std::chrono::milliseconds(200));
    }
    bool launched = launched_;
    bool failed = failure_.has_value();
    lock.unlock();

    int rc = -1;
    if (launched) {
      if (failed) {
        mpiexec_.kill();
      }
      rc = mpiexec_.wait();
      lock.lock();
      if (rc != 0 && !failure_) {
        fail("mpiexec exited with status " + std::to_string(rc));
      }
      // Every rank task ends: finished by itself, or killed now.
      if (failure_) {
        for (const auto& [id, state] : states_) {
          if (!terminal(state)) {
            mesos::TaskID task;
            task.set_value(id);
            driver->killTask(task);
          }
        }
      }
      changed_.wait_for(lock, std::chrono::seconds(30), [&] { return allTerminal(); });
      lock.unlock();
    }
    lock.lock();
    int finished = 0;
    for (const auto& [id, state] : states_) {
      finished += state == mesos::TASK_FINISHED;
    }
    std::cout << "mpi job: ranks=" << options_.ranks << " agents=" << agents_
              << " launched=" << states_.size() << " finished=" << finished << " mpiexec=" << rc
              << std::endl;
    if (failure_) {
      std::cout << "mpi job FAILED: " << *failure_ << std::endl;
      return 1;
    }
    std::cout << "mpi job succeeded" << std::endl;
    return 0;
  }

 private:
  // Places the gang on the held offers (spread: one rank per agent per
  // round) and launches it when every rank fits; otherwise keeps holding.
  void tryLaunch(mesos::SchedulerDriver* driver) {
    std::vector<const mesos::Offer*> offers;
    std::vector<int> room;
    for (const auto& [id, offer] : held_) {
      int fits = static_cast<int>(std::min(scalar(offer, "cpus") / options_.cpus + 1e-9,
                                           scalar(offer, "mem") / options_.mem + 1e-9));
      offers.push_back(&offer);
      room.push_back(fits);
    }
    std::vector<int> placed(offers.size(), 0);
    std::vector<size_t> rankOffer;
    bool progress = true;
    while (static_cast<int>(rankOffer.size()) < options_.ranks && progress) {
      progress = false;
      for (size_t i = 0; i < offers.size() && static_cast<int>(rankOffer.size()) < options_.ranks;
           i++) {
        if (placed[i] < room[i]) {
          placed[i]++;
          rankOffer.push_back(i);
          progress = true;
        }
      }
    }
    if (static_cast<int>(rankOffer.size()) < options_.ranks) {
      std::cout << "holding " << held_.size() << " offer(s): room for " << rankOffer.size()
                << " of " << options_.ranks << " ranks" << std::endl;
      return;
    }

    std::vector<std::string> commands;
    if (std::optional<std::string> error = mpiexec_.start(
            options_.mpiexec, options_.advertiseIp, options_.ranks, options_.program, &commands)) {
      fail(*error);
      releaseHeld(driver);
      return;
    }
    std::vector<std::vector<mesos::TaskInfo>> tasks(offers.size());
    for (int rank = 0; rank < options_.ranks; rank++) {
      const mesos::Offer& offer = *offers[rankOffer[rank]];
      mesos::TaskInfo task;
      task.set_name("mpi rank " + std::to_string(rank));
      task.mutable_task_id()->set_value("mpi-rank-" + std::to_string(rank));
      task.mutable_slave_id()->CopyFrom(offer.slave_id());
      task.add_resources()->CopyFrom(resource("cpus", options_.cpus));
      task.add_resources()->CopyFrom(resource("mem", options_.mem));
      task.mutable_command()->set_value(commands[rank]);
      states_[task.task_id().value()] = mesos::TASK_STAGING;
      tasks[rankOffer[rank]].push_back(task);
    }
    mesos::Filters filters;
    filters.set_refuse_seconds(3600);
    for (size_t i = 0; i < offers.size(); i++) {
      if (tasks[i].empty()) {
        driver->declineOffer(offers[i]->id(), filters);
        continue;
      }
      agents_++;
      mesos::Offer::Operation launch;
      launch.set_type(mesos::Offer::Operation::LAUNCH);
      for (const mesos::TaskInfo& task : tasks[i]) {
        launch.mutable_launch()->add_task_infos()->CopyFrom(task);
      }
      driver->acceptOffers({offers[i]->id()}, {launch}, filters);
    }
    std::cout << "launched " << options_.ranks << " ranks on " << agents_ << " agent(s)"
              << std::endl;
    held_.clear();
    launched_ = true;
  }

  // Gives every held offer back, to come again a little later.
  void releaseHeld(mesos::SchedulerDriver* driver) {
    mesos::Filters filters;
    filters.set_refuse_seconds(1);
    for (const auto& [id, offer] : held_) {
      driver->declineOffer(offer.id(), filters);
    }
    if (!held_.empty()) {
      std::cout << "declined " << held_.size() << " offer(s) that cannot fit the gang" << std::endl;
    }
    held_.clear();
  }

  void fail(const std::string& why) {
    if (!failure_) {
      failure_ = why;
      std::cout << "tearing the job down: " << why << std::endl;
    }
  }

  bool allTerminal() const {
    for (const auto& [id, state] : states_) {
      if (!terminal(state)) {
        return false;
      }
    }
    return true;
  }

  const Options options_;
  Mpiexec mpiexec_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, mesos::Offer> held_;
  Clock::time_point holdingSince_;
  std::map<std::string, mesos::TaskState> states_;
  int agents_ = 0;
  bool launched_ = false;
  std::optional<std::string> failure_;
};

void usage(const char* program) {
  std::cerr
      << "usage: " << program
      << " --master HOST:PORT [-n RANKS] [--cpus C] [--mem MB] [--gather SECS]\n"
         "          [--timeout SECS] [--mpiexec PATH] [--advertise-ip IP] -- PROGRAM [ARGS...]\n"
         "Gang-schedules RANKS (default 2) MPI ranks, each with C cpus (0.5) and MB memory (64),\n"
         "and runs PROGRAM (an absolute path, present on every agent) across them with MPICH's\n"
         "mpiexec. Offers that cannot fit the whole gang are declined after --gather seconds (3);\n"
         "the job fails after --timeout seconds (120). --advertise-ip is the address the agents\n"
         "reach this host at (127.0.0.1). Exits 0 when every rank finished and mpiexec exited 0."
      << std::endl;
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--") {
      options.program.assign(argv + i + 1, argv + argc);
      break;
    }
    if (i + 1 >= argc) {
      return std::nullopt;
    }
    std::string value = argv[++i];
    if (arg == "--master") {
      options.master = value;
    } else if (arg == "-n" || arg == "--ranks") {
      options.ranks = std::atoi(value.c_str());
    } else if (arg == "--cpus") {
      options.cpus = std::atof(value.c_str());
    } else if (arg == "--mem") {
      options.mem = std::atof(value.c_str());
    } else if (arg == "--gather") {
      options.gather = std::atof(value.c_str());
    } else if (arg == "--timeout") {
      options.timeout = std::atof(value.c_str());
    } else if (arg == "--mpiexec") {
      options.mpiexec = value;
    } else if (arg == "--advertise-ip") {
      options.advertiseIp = value;
    } else {
      return std::nullopt;
    }
  }
  if (options.master.empty() || options.program.empty() || options.ranks < 1 || options.cpus <= 0 ||
      options.mem <= 0) {
    return std::nullopt;
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc && std::string(argv[i]) != "--"; i++) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      usage(argv[0]);
      return 0;
    }
  }
  std::optional<Options> options = parse(argc, argv);
  if (!options) {
    usage(argv[0]);
    return 2;
  }
  MpiFramework scheduler(*options);
  mesos::FrameworkInfo framework;
  framework.set_user("");
  framework.set_name("mpi (" + std::to_string(options->ranks) + " ranks)");
  mesos::MesosSchedulerDriver driver(&scheduler, framework, options->master);
  if (driver.start() != mesos::DRIVER_RUNNING) {
    std::cerr << "the scheduler driver did not start" << std::endl;
    return 1;
  }
  int rc = scheduler.run(&driver);
  driver.stop();
  driver.join();
  return rc;
}
