#include "cluster.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
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

// How long `meseta local` may take to answer (its own waits give up before).
constexpr std::chrono::milliseconds kControlDeadline{180000};

// A JSON string's contents, escapes resolved (\uXXXX as UTF-8).
std::string unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char escaped = text[++i];
    switch (escaped) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        unsigned code = std::stoul(text.substr(i + 1, 4), nullptr, 16);
        i += 4;
        if (code < 0x80) {
          out += static_cast<char>(code);
        } else if (code < 0x800) {
          out += static_cast<char>(0xC0 | (code >> 6));
          out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
          out += static_cast<char>(0xE0 | (code >> 12));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (code & 0x3F));
        }
        break;
      }
      default:
        out += escaped;
    }
  }
  return out;
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
  return httpRequest("GET", address, path, "", status);
}

std::string httpPost(const std::string& address, const std::string& path, const std::string& body,
                     int* status) {
  return httpRequest("POST", address, path, body, status);
}

std::string httpRequest(const std::string& method, const std::string& address,
                        const std::string& path, const std::string& payload, int* status) {
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
    std::string request = method + " " + path + " HTTP/1.0\r\nHost: " + address +
                          "\r\nAccept: application/json\r\nConnection: close\r\n";
    if (method != "GET") {
      request +=
          "Content-Type: application/json\r\nContent-Length: " + std::to_string(payload.size()) +
          "\r\n";
    }
    request += "\r\n" + payload;
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

// The delegating constructor starts the cluster: the object is complete by
// then, so the destructor cleans up if starting fails.
LocalCluster::LocalCluster(const Options& options) : LocalCluster(options, 0) { spawn(); }

LocalCluster LocalCluster::onPort(int port) { return LocalCluster(Options{0, {}, {}}, port); }

LocalCluster::LocalCluster(const Options& options, int port)
    : root_(makeTempDir("meseta-cpp-test")),
      binary_(mesetaBinary()),
      port_(port),
      options_(options),
      master_("127.0.0.1:" + std::to_string(port)) {
  if (access(binary_.c_str(), X_OK) != 0) {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
    throw std::runtime_error("the meseta binary '" + binary_ +
                             "' is missing: build it (cargo build -p meseta) or set MESETA_BINARY");
  }
}

LocalCluster::~LocalCluster() {
  bool failed = ::testing::Test::HasFailure() || std::uncaught_exceptions() > 0;
  shutdown();
  if (failed) printLogTails(std::cerr, 40);
  if (failed || std::getenv("MESETA_TEST_KEEP") != nullptr) {
    std::cerr << "(the cluster's files are kept in " << root_ << ")" << std::endl;
  } else {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
}

std::string LocalCluster::master() const { return master_; }

void LocalCluster::startMaster() {
  if (control_ > 0) {
    command("start", "master");
  } else {
    spawn();
  }
}

void LocalCluster::restartMaster() { command("restart", "master"); }

void LocalCluster::startAgent(int index) { command("start", "agent-" + std::to_string(index)); }

void LocalCluster::killAgent(int index) { command("kill", "agent-" + std::to_string(index)); }

void LocalCluster::restartAgent(int index) { command("restart", "agent-" + std::to_string(index)); }

std::string LocalCluster::agentAddress(int index) const {
  auto process = processes_.find("agent-" + std::to_string(index));
  if (process == processes_.end()) return "";
  auto address = process->second.find("address");
  return address == process->second.end() ? "" : address->second;
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
  for (const auto& [name, process] : processes_) {
    auto log = process.find("log");
    if (log == process.end()) continue;
    out << "---- last " << lines << " lines of " << log->second << " ----\n"
        << tail(log->second, lines);
  }
  out.flush();
}

void LocalCluster::spawn() {
  std::vector<std::string> command = {binary_,
                                      "local",
                                      "--control",
                                      "--agents",
                                      std::to_string(options_.agents),
                                      "--port",
                                      std::to_string(port_),
                                      "--work-dir",
                                      root_,
                                      "--resources",
                                      "cpus:2;mem:1024;disk:1024",
                                      "--master-arg=--allocation-interval",
                                      "--master-arg=100ms"};
  for (const std::string& flag : options_.masterFlags) command.push_back("--master-arg=" + flag);
  for (const std::string& flag : options_.agentFlags) command.push_back("--agent-arg=" + flag);

  // A socket rather than pipes: writing a command after `meseta local`
  // died fails with EPIPE (MSG_NOSIGNAL) instead of killing the test.
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  }
  // Everything the child needs is made before fork (only async-signal-safe
  // calls after it: the test may have threads by now).
  std::vector<char*> argv;
  for (std::string& arg : command) argv.push_back(arg.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    int error = errno;
    close(ends[0]);
    close(ends[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(error));
  }
  if (pid == 0) {
    // Stdin and stdout are the socket; stderr stays the test's.
    dup2(ends[1], 0);
    dup2(ends[1], 1);
    close_range(3, ~0U, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(ends[1]);
  control_ = pid;
  socket_ = ends[0];
  for (;;) {
    Event event = next("the cluster to start");
    if (event["event"] == "ready") {
      master_ = event["leader"];
      return;
    }
    processes_[event["name"]] = event;
  }
}

void LocalCluster::command(const std::string& verb, const std::string& name) {
  if (control_ <= 0) throw std::runtime_error("the cluster is not started");
  std::string line = verb + " " + name + "\n";
  if (send(socket_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    throw std::runtime_error("meseta local does not take commands: " +
                             std::string(std::strerror(errno)));
  }
  Event event = next(verb + " " + name);
  processes_[event["name"]] = event;
}

LocalCluster::Event LocalCluster::next(const std::string& what) {
  static const std::regex field(
      "\"((?:[^\"\\\\]|\\\\.)*)\"\\s*:\\s*(\"((?:[^\"\\\\]|\\\\.)*)\"|[^,}\\s]+)");
  auto end = std::chrono::steady_clock::now() + kControlDeadline;
  size_t newline;
  while ((newline = unread_.find('\n')) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    pollfd readable{socket_, POLLIN, 0};
    int ready = left.count() > 0 ? poll(&readable, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) throw WaitTimeout("meseta local said nothing waiting for " + what);
    char buffer[4096];
    ssize_t n = read(socket_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("meseta local exited waiting for " + what);
    unread_.append(buffer, n);
  }
  std::string line = unread_.substr(0, newline);
  unread_.erase(0, newline + 1);
  Event event;
  for (std::sregex_iterator it(line.begin(), line.end(), field), done; it != done; ++it) {
    const std::smatch& match = *it;
    event[unescape(match[1])] = match[3].matched ? unescape(match[3]) : match[2].str();
  }
  if (event["event"] == "error") {
    throw std::runtime_error("meseta local: " + event["message"] + " (" + what + ")");
  }
  return event;
}

void LocalCluster::shutdown() {
  if (control_ <= 0) return;
  // EOF on its stdin: it stops every process, says "stopped" and exits.
  ::shutdown(socket_, SHUT_WR);
  auto end = std::chrono::steady_clock::now() + kControlDeadline;
  int status = 0;
  while (waitpid(control_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= end) {
      kill(control_, SIGKILL);
      waitpid(control_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  close(socket_);
  socket_ = -1;
  control_ = -1;
}

}  // namespace meseta_test
