// Protobuf objects to and from the bytes that cross the cxx bridge.
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "meseta/bridge.hpp"

namespace meseta {
namespace convert {

template <typename M>
M parse(bridge::Bytes bytes) {
  M message;
  // Partial: a message the core sent is taken as it is, even if a
  // required field were missing, rather than dropped.
  message.ParsePartialFromArray(bytes.data(), static_cast<int>(bytes.size()));
  return message;
}

inline std::string serialize(const google::protobuf::MessageLite& message) {
  std::string out;
  message.SerializePartialToString(&out);
  return out;
}

inline bridge::Bytes view(const std::string& bytes) {
  return bridge::Bytes(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

// A list of messages, serialized, with a slice of views over them. Keep it
// alive while the slice is in use.
class List {
 public:
  template <typename Messages>
  explicit List(const Messages& messages) {
    encoded_.reserve(messages.size());
    for (const auto& message : messages) {
      encoded_.push_back(serialize(message));
    }
    for (const std::string& bytes : encoded_) {
      views_.push_back(view(bytes));
    }
  }

  rust::Slice<const bridge::Bytes> slice() const {
    return rust::Slice<const bridge::Bytes>(views_.data(), views_.size());
  }

 private:
  std::vector<std::string> encoded_;
  std::vector<bridge::Bytes> views_;
};

// Strings as the bridge takes them (&[String]).
class Strings {
 public:
  explicit Strings(const std::vector<std::string>& strings) {
    for (const std::string& s : strings) {
      strings_.emplace_back(s);
    }
  }

  rust::Slice<const rust::String> slice() const {
    return rust::Slice<const rust::String>(strings_.data(), strings_.size());
  }

 private:
  std::vector<rust::String> strings_;
};

// Runs a bridge call that can fail (a message the core could not decode):
// the failure is printed and `fallback` returned.
template <typename Call, typename Fallback>
auto guarded(const char* method, Call call, Fallback fallback) -> decltype(call()) {
  try {
    return call();
  } catch (const rust::Error& e) {
    std::cerr << "meseta: " << method << ": " << e.what() << std::endl;
    return fallback();
  }
}

}  // namespace convert
}  // namespace meseta
