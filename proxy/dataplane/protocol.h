// The RESP version a client speaks (HELLO 2 or HELLO 3). Server connections come in the same
// two kinds, each having said HELLO in its handshake, so that a reply travels verbatim from the
// server to a client of its protocol and nothing is translated.
#pragma once

#include <cstdint>

namespace ringproxy::proxy {

// The values index per-protocol tables (Server's connection slots).
enum class Protocol : uint8_t { kResp2 = 0, kResp3 = 1 };

inline constexpr int ProtocolVersion(Protocol protocol) {
  return protocol == Protocol::kResp3 ? 3 : 2;
}

}  // namespace ringproxy::proxy
