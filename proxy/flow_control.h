// FlowControl: when the proxy reads a client, when it forwards the client's requests, and when it
// gives up on a client that does not read. Pure functions of a client's counts, so the policy is
// unit-tested without a loop (tests/proxy/flow_control_test.cc).
//
// Three budgets, modelled on what Redis does, because clients are written against Redis:
// - Requests sent to servers and not yet answered (count and bytes): past them the proxy stops
//   reading the client until half are answered. Servers answer whatever the client does, so
//   this pause always ends; it bounds what a client can queue toward a slow server.
// - Replies the client has not read (Redis's client-output-buffer-limit): past the soft limit
//   the proxy stops forwarding the client's requests but keeps reading them, up to the query
//   buffer budget, so a client that writes its whole pipeline before it reads (redis-py, Jedis)
//   can finish writing and start reading. Never stopping to read because of replies is what
//   keeps such a client from deadlocking with the proxy.
// - The client is disconnected only when it does not read: past the hard limit at once, or past
//   the soft limit for soft_seconds without taking or sending a byte. A client that reads at any
//   speed, and one reply up to the hard limit, always get through.
#pragma once

#include <cstddef>
#include <cstdint>

#include "config/pool_config.h"

namespace ringproxy::proxy {

struct FlowLimits {
  size_t max_pending_requests = 8192;
  size_t max_pending_request_bytes = 32u << 20;
  config::OutputBufferLimit output;
  uint64_t query_buffer_bytes = uint64_t{1} << 30;
};

// One client's counts.
struct FlowState {
  size_t pending_requests = 0;       // sent toward servers, no reply yet
  size_t pending_request_bytes = 0;  // their bytes as the client sent them
  size_t held_reply_bytes = 0;       // replies ready or in the socket's hands, not yet read
  size_t unforwarded_bytes = 0;      // requests read and held back (parsed or not)
};

enum class OutputVerdict : uint8_t {
  kKeep,
  kOverHardLimit,
  kStalledOverSoftLimit,  // past the soft limit for soft_seconds without taking a byte
};

class FlowControl {
 public:
  // Whether to forward requests now. Stops at the soft output limit and resumes below half of
  // it, so a client near the limit does not flap. `forwarding`: whether it forwards now.
  static bool ShouldForward(const FlowLimits& limits, const FlowState& state, bool forwarding) {
    const uint64_t soft = limits.output.soft_bytes;
    if (soft == 0) return true;
    return forwarding ? state.held_reply_bytes < soft : state.held_reply_bytes < soft / 2;
  }

  // Whether to read the client's socket now. `reading`: whether it reads now; `forwarding`:
  // ShouldForward's answer. A paused client is read again once below half of what paused it.
  static bool ShouldRead(const FlowLimits& limits, const FlowState& state, bool reading,
                         bool forwarding) {
    const size_t divisor = reading ? 1 : 2;
    // One request, however large, may always be in flight.
    if (state.pending_requests > 0 &&
        (state.pending_requests >= limits.max_pending_requests / divisor ||
         state.pending_request_bytes >= limits.max_pending_request_bytes / divisor)) {
      return false;
    }
    return forwarding || state.unforwarded_bytes < limits.query_buffer_bytes / divisor;
  }

  // Whether a client holding `held_reply_bytes` must go. `incoming`: reply bytes about to be
  // added; `stalled_ns`: how long since the client last took or sent a byte.
  static OutputVerdict CheckOutput(const FlowLimits& limits, size_t held_reply_bytes,
                                   size_t incoming, uint64_t stalled_ns) {
    const uint64_t held = uint64_t{held_reply_bytes} + incoming;
    if (limits.output.hard_bytes != 0 && held > limits.output.hard_bytes) {
      return OutputVerdict::kOverHardLimit;
    }
    if (limits.output.soft_bytes != 0 && held > limits.output.soft_bytes &&
        stalled_ns >= limits.output.soft_seconds * 1000000000) {
      return OutputVerdict::kStalledOverSoftLimit;
    }
    return OutputVerdict::kKeep;
  }
};

}  // namespace ringproxy::proxy
