// mpiexec (MPICH's Hydra) with the manual launcher, for the MPI example
// framework: it prints one proxy command per rank for someone else to run
// (here: one task per rank), then forwards the ranks' output.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

// mpiexec with the manual launcher: the proxy commands it prints, then the
// ranks' output, and its exit status.
class Mpiexec {
 public:
  // Starts `mpiexec` for `ranks` ranks of `program`, its control port
  // advertised at `advertiseIp`; returns the proxy commands (one per rank,
  // in rank order) or an error message.
  std::optional<std::string> start(const std::string& mpiexec, const std::string& advertiseIp,
                                   int ranks, const std::vector<std::string>& program,
                                   std::vector<std::string>* commands) {
    std::vector<std::string> args = {mpiexec,
                                     "-launcher",
                                     "manual",
                                     "-localhost",
                                     advertiseIp,
                                     "-disable-hostname-propagation",
                                     "-genvnone",
                                     "-wdir",
                                     "/tmp",
                                     "-n",
                                     std::to_string(ranks),
                                     "-hosts"};
    // One distinct label per rank: one proxy (one task) per rank.
    std::string hosts;
    for (int rank = 0; rank < ranks; rank++) {
      hosts += (rank ? "," : "") + std::string("rank") + std::to_string(rank);
    }
    args.push_back(hosts);
    // A rank that exits non-zero is re-raised as SIGKILL: Hydra tears the
    // whole job down only when a rank dies by a signal.
    args.insert(args.end(), {"/bin/sh", "-c", "\"$0\" \"$@\" || kill -KILL $$"});
    args.insert(args.end(), program.begin(), program.end());

    int fds[2];
    if (pipe(fds) != 0) {
      return std::string("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    int error = posix_spawnp(&pid_, args[0].c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (error != 0) {
      close(fds[0]);
      pid_ = -1;
      return "cannot run " + mpiexec + ": " + std::strerror(error) +
             " (install MPICH: apt-get install mpich)";
    }
    output_ = fdopen(fds[0], "r");
    std::string line;
    while (readLine(&line)) {
      const std::string prefix = "HYDRA_LAUNCH: ";
      if (line.rfind(prefix, 0) == 0) {
        commands->push_back(line.substr(prefix.size()));
      } else if (line.rfind("HYDRA_LAUNCH_END", 0) == 0) {
        break;
      } else {
        std::cout << "mpiexec: " << line << std::endl;
      }
    }
    if (static_cast<int>(commands->size()) != ranks) {
      kill();
      return "mpiexec printed " + std::to_string(commands->size()) + " proxy commands for " +
             std::to_string(ranks) + " ranks";
    }
    reader_ = std::thread([this] { forward(); });
    return std::nullopt;
  }

  // SIGKILL: its proxies notice within a moment and kill their ranks.
  void kill() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
    }
  }

  // Waits for mpiexec to end (after its output is drained); its exit status.
  int wait() {
    if (reader_.joinable()) {
      reader_.join();
    }
    if (pid_ <= 0) {
      return -1;
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      exited_ = true;
    }
    if (output_ != nullptr) {
      fclose(output_);
      output_ = nullptr;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Whether the ranks' output ended (mpiexec is exiting).
  bool done() {
    std::lock_guard<std::mutex> lock(mutex_);
    return outputEnded_;
  }

  void onDone(std::function<void()> callback) { onDone_ = std::move(callback); }

 private:
  bool readLine(std::string* line) {
    line->clear();
    int c;
    while ((c = fgetc(output_)) != EOF) {
      if (c == '\n') {
        return true;
      }
      line->push_back(static_cast<char>(c));
    }
    return !line->empty();
  }

  void forward() {
    std::string line;
    while (readLine(&line)) {
      std::cout << line << std::endl;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      outputEnded_ = true;
    }
    if (onDone_) {
      onDone_();
    }
  }

  std::mutex mutex_;
  pid_t pid_ = -1;
  bool exited_ = false;
  bool outputEnded_ = false;
  FILE* output_ = nullptr;
  std::thread reader_;
  std::function<void()> onDone_;
};
