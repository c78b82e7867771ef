// The gate between a driver and the sink that calls its user's object.
#pragma once

#include <exception>
#include <iostream>
#include <mutex>
#include <string>

namespace meseta {
namespace bridge {

// Whether callbacks may still reach the user's object. Shared by a driver
// and its sink: the driver's destructor closes it, so no callback starts
// after that, and waits for one in progress.
struct Gate {
  std::recursive_mutex mutex;
  bool open = true;

  void close() {
    std::lock_guard<std::recursive_mutex> lock(mutex);
    open = false;
  }

  // Returns once no callback is in progress (at once on the callback
  // thread itself).
  void awaitIdle() { std::lock_guard<std::recursive_mutex> lock(mutex); }

  // Runs `kind::callback` (through `call`) unless the gate is closed. What
  // it throws is printed and passed to `report` (the user's error
  // callback), unless the failing callback was error itself.
  template <typename Call, typename Report>
  static void deliver(Gate& gate, const char* kind, const char* callback, Call call,
                      Report report) {
    std::lock_guard<std::recursive_mutex> lock(gate.mutex);
    if (!gate.open) {
      return;
    }
    std::string failure;
    try {
      call();
      return;
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "an exception that is not a std::exception";
    }
    std::string message = std::string(kind) + "::" + callback + " threw: " + failure;
    std::cerr << "meseta: " << message << std::endl;
    if (std::string(callback) == "error") {
      return;
    }
    try {
      report(message);
    } catch (...) {
      std::cerr << "meseta: " << kind << "::error threw too; ignored" << std::endl;
    }
  }
};

}  // namespace bridge
}  // namespace meseta
