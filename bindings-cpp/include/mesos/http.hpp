// The encodings of Mesos's HTTP APIs, as <mesos/http.hpp> names them.
#pragma once

namespace mesos {

// How calls and events are encoded on the wire. The v1 scheduler library
// speaks PROTOBUF or JSON; RECORDIO is the framing of event streams, not a
// choice a client makes.
enum class ContentType { PROTOBUF, JSON, RECORDIO };

}  // namespace mesos
