#include "cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <regex>
#include <sstream>
#include <thread>

#ifndef MESETA_TEST_BINARY
#define MESETA_TEST_BINARY ""
#endif
#ifndef MESETA_TEST_EXECUTOR
#define MESETA_TEST_EXECUTOR ""
#endif
#ifndef MESETA_RECORDING_EXECUTOR
#define MESETA_RECORDING_EXECUTOR ""
#endif

namespace fs = std::filesystem;

namespace meseta_test {

namespace {

std::string fromEnvironment(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

// The chunked body of an HTTP/1.1 response, decoded.
std::string unchunk(const std::string& body) {
  std::string out;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find("\r\n", at);
    if (end == std::string::npos) break;
    size_t size = std::strtoul(body.substr(at, end - at).c_str(), nullptr, 16);
    if (size == 0) break;
    out += body.substr(end + 2, size);
    at = end + 2 + size + 2;
  }
  return out;
}

}  // namespace

void waitFor(const std::string& what, const std::function<bool()>& condition,
             std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) {
      throw WaitTimeout("timed out after " + std::to_string(deadline.count()) + " ms waiting for " +
                        what);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string mesetaBinary() { return fromEnvironment("MESETA_BINARY", MESETA_TEST_BINARY); }

std::string testExecutorPath() {
  return fromEnvironment("MESETA_TEST_EXECUTOR", MESETA_TEST_EXECUTOR);
}

std::string recordingExecutorPath() {
  return fromEnvironment("MESETA_RECORDING_EXECUTOR", MESETA_RECORDING_EXECUTOR);
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    int error = errno;
    close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(error));
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::string makeTempDir(const std::string& prefix) {
  std::string pattern = fromEnvironment("TMPDIR", "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return buffer.data();
}

std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string tail(const std::string& path, int count) {
  static const std::regex ansi("\x1b\\[[0-9;]*m");
  std::vector<std::string> lines = readLines(path);
  size_t from = lines.size() > static_cast<size_t>(count) ? lines.size() - count : 0;
  std::string out;
  for (size_t i = from; i < lines.size(); ++i) {
    out += std::regex_replace(lines[i], ansi, "") + "\n";
  }
  return out;
}

std::string httpGet(const std::string& address, const std::string& path, int* status) {
  if (status != nullptr) *status = 0;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "";
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1)));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &peer.sin_addr) != 1) return "";
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + address +
                          "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
      if (n < 0) response.clear();  // timed out or reset: incomplete
    }
  }
  close(fd);
  size_t headersEnd = response.find("\r\n\r\n");
  if (response.compare(0, 5, "HTTP/") != 0 || headersEnd == std::string::npos) return "";
  int code = std::atoi(response.c_str() + response.find(' ') + 1);
  if (status != nullptr) *status = code;
  std::string headers = response.substr(0, headersEnd);
  std::string body = response.substr(headersEnd + 4);
  static const std::regex chunked("transfer-encoding:\\s*chunked", std::regex::icase);
  if (std::regex_search(headers, chunked)) body = unchunk(body);
  return code == 200 ? body : "";
}

const std::vector<std::string> LocalCluster::kFastAgentTimeouts = {
    "--agent-ping-timeout", "300ms", "--max-agent-ping-timeouts", "5"};

LocalCluster::LocalCluster(int agents) : LocalCluster(Options{agents, {}, {}}) {}

// The delegating constructors start the processes: the object is complete
// by then, so the destructor cleans up if starting fails.
LocalCluster::LocalCluster(const Options& options) : LocalCluster(options, 0) {
  startMaster();
  for (int i = 0; i < options.agents; ++i) startAgent(i);
  waitForActiveAgents(options.agents);
}

LocalCluster LocalCluster::onPort(int port) { return LocalCluster(Options{0, {}, {}}, port); }

LocalCluster::LocalCluster(const Options& options, int port)
    : root_(makeTempDir("meseta-cpp-test")),
      binary_(mesetaBinary()),
      port_(port),
      options_(options) {
  if (access(binary_.c_str(), X_OK) != 0) {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
    throw std::runtime_error("the meseta binary '" + binary_ +
                             "' is missing: build it (cargo build -p meseta) or set MESETA_BINARY");
  }
}

LocalCluster::~LocalCluster() {
  bool failed = ::testing::Test::HasFailure() || std::uncaught_exceptions() > 0;
  // Agents first, gracefully (they kill their tasks), then the master.
  for (Process& agent : agents_) {
    if (agent.pid > 0) kill(agent.pid, SIGTERM);
  }
  for (Process& agent : agents_) terminate(agent, SIGTERM, std::chrono::seconds(10));
  terminate(master_, SIGTERM, std::chrono::seconds(10));
  for (size_t i = 0; i < agents_.size(); ++i) {
    killLeftoverContainers(workDir("agent-" + std::to_string(i)));
  }
  if (failed) printLogTails(std::cerr, 40);
  if (failed || std::getenv("MESETA_TEST_KEEP") != nullptr) {
    std::cerr << "(the cluster's files are kept in " << root_ << ")" << std::endl;
  } else {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
}

std::string LocalCluster::master() const { return "127.0.0.1:" + std::to_string(port_); }

std::string LocalCluster::workDir(const std::string& name) const { return root_ + "/" + name; }

std::string LocalCluster::logPath(const std::string& name) const {
  return root_ + "/" + name + ".log";
}

void LocalCluster::startMaster() {
  std::vector<std::string> args = {
      "master", "--ip", "127.0.0.1", "--port", std::to_string(port_), "--allocation-interval",
      "100ms"};
  args.insert(args.end(), options_.masterFlags.begin(), options_.masterFlags.end());
  master_ = launch("master", args);
  if (port_ == 0) {
    std::string address = readFile(workDir("master") + "/address");
    port_ = std::atoi(address.c_str() + address.rfind(':') + 1);
  }
}

void LocalCluster::restartMaster() {
  terminate(master_, SIGKILL, std::chrono::milliseconds(0));
  startMaster();
}

void LocalCluster::startAgent(int index) {
  // Each agent isolates its tasks under a cgroup root of its own, so that
  // agents of tests running side by side never take each other's
  // containers for orphans.
  std::string cgroupsRoot =
      "meseta-test/" + fs::path(root_).filename().string() + "-agent-" + std::to_string(index);
  std::vector<std::string> args = {"agent",
                                   "--master",
                                   master(),
                                   "--ip",
                                   "127.0.0.1",
                                   "--port",
                                   "0",
                                   "--resources",
                                   "cpus:2;mem:1024;disk:1024",
                                   "--cgroups-root",
                                   cgroupsRoot};
  args.insert(args.end(), options_.agentFlags.begin(), options_.agentFlags.end());
  Process agent = launch("agent-" + std::to_string(index), args);
  if (static_cast<size_t>(index) < agents_.size()) {
    agents_[index] = agent;
  } else {
    agents_.push_back(agent);
  }
}

void LocalCluster::killAgent(int index) {
  terminate(agents_.at(index), SIGKILL, std::chrono::milliseconds(0));
}

void LocalCluster::restartAgent(int index) {
  killAgent(index);
  startAgent(index);
}

std::string LocalCluster::agentAddress(int index) const {
  std::string address = readFile(workDir("agent-" + std::to_string(index)) + "/address");
  while (!address.empty() && std::isspace(static_cast<unsigned char>(address.back()))) {
    address.pop_back();
  }
  return address;
}

std::string LocalCluster::agentId(int index) const {
  static const std::regex id("\"id\"\\s*:\\s*\"([^\"]+-S\\d+)\"");
  std::string found;
  waitFor("agent-" + std::to_string(index) + " to know its ID", [&] {
    std::smatch match;
    std::string state = httpGet(agentAddress(index), "/state");
    if (std::regex_search(state, match, id)) found = match[1];
    return !found.empty();
  });
  return found;
}

std::string LocalCluster::get(const std::string& path) const { return httpGet(master(), path); }

double LocalCluster::metric(const std::string& name) const {
  std::string snapshot = get("/metrics/snapshot");
  std::string key = "\"" + name + "\"";
  size_t at = snapshot.find(key);
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  at = snapshot.find(':', at + key.size());
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(snapshot.c_str() + at + 1, nullptr);
}

void LocalCluster::waitForMetric(const std::string& name, double value) const {
  double last = std::nan("");
  try {
    waitFor(name + " = " + std::to_string(value), [&] { return (last = metric(name)) == value; });
  } catch (const WaitTimeout& timeout) {
    throw WaitTimeout(std::string(timeout.what()) + " (last seen: " + std::to_string(last) + ")");
  }
}

void LocalCluster::waitForActiveAgents(int count) const {
  waitForMetric("master/slaves_active", count);
}

long LocalCluster::allocationRuns() const {
  double runs = metric("allocator/mesos/allocation_runs");
  if (std::isnan(runs)) {
    throw std::runtime_error("allocator/mesos/allocation_runs is missing from /metrics/snapshot");
  }
  return static_cast<long>(runs);
}

void LocalCluster::awaitAllocationCycles(int cycles) const {
  long start = allocationRuns();
  waitFor(std::to_string(cycles) + " allocation cycles",
          [&] { return allocationRuns() >= start + cycles; });
}

void LocalCluster::printLogTails(std::ostream& out, int lines) const {
  std::vector<std::string> names = {"master"};
  for (size_t i = 0; i < agents_.size(); ++i) names.push_back("agent-" + std::to_string(i));
  for (const std::string& name : names) {
    out << "---- last " << lines << " lines of " << logPath(name) << " ----\n"
        << tail(logPath(name), lines);
  }
  out.flush();
}

LocalCluster::Process LocalCluster::launch(const std::string& name,
                                           const std::vector<std::string>& args) {
  std::string dir = workDir(name);
  fs::create_directories(dir);
  std::string addressFile = dir + "/address";
  fs::remove(addressFile);
  std::string log = logPath(name);

  // Everything the child needs is made before fork (only async-signal-safe
  // calls after it).
  std::vector<std::string> command = {binary_};
  command.insert(command.end(), args.begin(), args.end());
  command.push_back("--work-dir");
  command.push_back(dir);
  std::vector<char*> argv;
  for (std::string& arg : command) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Dies with the test, even if it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    close_range(3, ~0U, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }

  Process process{name, pid};
  try {
    waitFor(name + " to listen", [&] {
      if (exited(pid)) {
        process.pid = -1;
        throw std::runtime_error(name + " exited at start; its log:\n" + tail(log, 40));
      }
      return !readFile(addressFile).empty();
    });
  } catch (...) {
    terminate(process, SIGKILL, std::chrono::milliseconds(0));
    throw;
  }
  return process;
}

void LocalCluster::terminate(Process& process, int signal, std::chrono::milliseconds grace) {
  if (process.pid <= 0) return;
  kill(process.pid, signal);
  auto end = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < end) {
    if (exited(process.pid)) {
      process.pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(process.pid, SIGKILL);
  int status = 0;
  waitpid(process.pid, &status, 0);
  process.pid = -1;
}

// The tasks of an agent that was killed (and not restarted) survive it by
// design, but the tests must not leak them: like the Rust launcher, kill
// the process group of each container the agent recorded as
// `<work dir>/meta/containers/*/pid` ("<pid> <start time> <boot id>"),
// if that process still runs (same start time, not a zombie).
void LocalCluster::killLeftoverContainers(const std::string& agentWorkDir) const {
  std::error_code error;
  fs::directory_iterator containers(agentWorkDir + "/meta/containers", error);
  if (error) return;
  for (const fs::directory_entry& container : containers) {
    std::istringstream record(readFile(container.path().string() + "/pid"));
    pid_t pid = 0;
    std::string startTime;
    if (!(record >> pid >> startTime) || pid <= 1) continue;
    std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    std::vector<std::string> values;
    std::string value;
    while (fields >> value) values.push_back(value);
    // Field 3 (state) is values[0]; field 22 (start time) is values[19].
    if (values.size() > 19 && values[0] != "Z" && values[19] == startTime) {
      killpg(pid, SIGKILL);
    }
  }
}

}  // namespace meseta_test
