// A real Meseta cluster for the tests: one `meseta local --control` process
// starts a master and N agents on 127.0.0.1, each with its own work dir and
// log file under a fresh temp dir, and on command kills the master and
// restarts it on the same port, kills an agent, or kills and restarts it on
// its work dir (it then recovers what it checkpointed). It reports each
// process as a JSON line on its stdout and reads one command a line on its
// stdin; closing that (this object's destructor, or the test process dying)
// stops every process. If the test failed, the logs' tails are printed and
// the temp dir is kept (also kept when MESETA_TEST_KEEP is set), else it is
// removed.
//
// Waits poll with a deadline and throw WaitTimeout when it passes
// (GoogleTest reports an exception thrown by a test body as a failure).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace meseta_test {

// How long any wait lasts before the test fails.
constexpr std::chrono::milliseconds kDeadline{60000};

// A wait that ran out of time.
class WaitTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Polls `condition` (every 20 ms) until it holds; throws WaitTimeout after
// `deadline`.
void waitFor(const std::string& what, const std::function<bool()>& condition,
             std::chrono::milliseconds deadline = kDeadline);

// Paths the build passes (overridable through the environment variables of
// the same name): the `meseta` binary, the example C++ executor and the
// tests' recording executor.
std::string mesetaBinary();
std::string testExecutorPath();
std::string recordingExecutorPath();

// A TCP port nobody listens on right now.
int freePort();

// A new directory under $TMPDIR (or /tmp).
std::string makeTempDir(const std::string& prefix);

// The lines of a text file; none if it cannot be read.
std::vector<std::string> readLines(const std::string& path);

// The last `count` lines of a text file, ANSI colours removed.
std::string tail(const std::string& path, int count);

// `GET http://address/path` with a 5 s timeout: the body, or "" if the
// request failed. `status` (if given) gets the HTTP status, 0 on failure.
std::string httpGet(const std::string& address, const std::string& path, int* status = nullptr);

// `POST http://address/path` with a JSON body; the same answer as httpGet.
std::string httpPost(const std::string& address, const std::string& path, const std::string& body,
                     int* status = nullptr);

// Either of the above.
std::string httpRequest(const std::string& method, const std::string& address,
                        const std::string& path, const std::string& body, int* status);

class LocalCluster {
 public:
  // Master flags that notice a silent agent within about 1.5 s (pings every
  // 300 ms, 5 unanswered in a row); the default is 75 s.
  static const std::vector<std::string> kFastAgentTimeouts;

  struct Options {
    int agents = 1;
    std::vector<std::string> masterFlags;  // added to the master's usual ones
    std::vector<std::string> agentFlags;   // added to every agent's
  };

  // Starts a master on a free port and `agents` agents, and waits until the
  // master counts them all active.
  explicit LocalCluster(int agents = 1);
  explicit LocalCluster(const Options& options);

  // A cluster whose master will listen on `port`; nothing starts until
  // startMaster().
  static LocalCluster onPort(int port);

  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;
  ~LocalCluster();

  // The master's "127.0.0.1:PORT".
  std::string master() const;

  // Starts the cluster of onPort() (waiting for its master), or the master
  // again after it was killed.
  void startMaster();
  // Kills the master (SIGKILL) and starts it again on the same port and
  // work dir.
  void restartMaster();
  // Starts agent `index` (the next one, or one killed earlier) on its own
  // work dir.
  void startAgent(int index);
  // SIGKILL: the agent's executors and tasks keep running.
  void killAgent(int index);
  // killAgent, then startAgent on the same work dir.
  void restartAgent(int index);

  // The "HOST:PORT" agent `index` listens on.
  std::string agentAddress(int index) const;
  // The ID agent `index` registered with (from its /state), waiting for it.
  std::string agentId(int index) const;

  // GET on the master; "" if it failed.
  std::string get(const std::string& path) const;
  // A value of the master's /metrics/snapshot; NaN if missing or down.
  double metric(const std::string& name) const;
  void waitForMetric(const std::string& name, double value) const;
  void waitForActiveAgents(int count) const;
  // The master's allocation cycles so far (allocator/mesos/allocation_runs).
  long allocationRuns() const;
  // Waits until the master ran `cycles` more allocation cycles (one every
  // 100 ms): how long "nothing happens" is watched for.
  void awaitAllocationCycles(int cycles) const;

  const std::string& root() const { return root_; }
  void printLogTails(std::ostream& out, int lines) const;

 private:
  // One line of `meseta local --control`: a flat JSON object's fields
  // (strings unescaped, other values as written).
  using Event = std::map<std::string, std::string>;

  // Starts nothing.
  LocalCluster(const Options& options, int port);

  // Starts `meseta local --control` and waits for its "ready".
  void spawn();
  // Sends "verb name" and records the process it reports back.
  void command(const std::string& verb, const std::string& name);
  // The next event; throws on an "error", on EOF and on silence.
  Event next(const std::string& what);
  // Closes its stdin (it stops the cluster) and waits for it to exit.
  void shutdown();

  std::string root_;
  std::string binary_;
  int port_ = 0;
  Options options_;
  std::string master_;
  pid_t control_ = -1;  // `meseta local --control`
  int socket_ = -1;     // its stdin and stdout
  std::string unread_;  // what it wrote past the last full line
  // Every process by name ("master", "agent-N"), as last reported.
  std::map<std::string, Event> processes_;
};

}  // namespace meseta_test
