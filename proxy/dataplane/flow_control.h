// FlowControl: when the proxy reads a client, when it forwards the client's requests, and when it
// gives up on a client that does not read. Pure functions of a client's counts, so the policy is
// unit-tested without a loop (tests/proxy/flow_control_test.cc).
//
// Modelled on what Redis does, because clients are written against Redis:
// - Requests sent to servers and not yet answered (count and bytes): past them the proxy stops
//   reading the client until half are answered. Servers answer whatever the client does, so
//   this pause always ends; it bounds what a client can queue toward a slow server.
// - Replies (Redis's client-output-buffer-limit): the proxy forwards a client's requests only
//   while the replies it holds for the client, plus those its requests in flight will bring,
//   stay under the soft limit. Requests in flight are reckoned at the client's recent reply
//   size, so a client asking for 1 MiB values has a few dozen in flight, not thousands: what a
//   client that does not read can make a server hold for it stays near the soft limit too.
// - Past the soft limit the proxy keeps *reading* the client (up to the query buffer limit) while
//   it forwards nothing, so a client that writes its whole pipeline before it reads (redis-py,
//   Jedis) can finish writing and start reading. Never stopping to read because of replies is
//   what keeps such a client from deadlocking with the proxy.
// - A client is disconnected only when it does not read: past the hard limit at once, or when,
//   held at the soft limit with replies ready for it, it neither takes nor sends a byte for the
//   soft seconds. A client that reads at any speed, and one reply up to the hard limit, always
//   get through.
#pragma once

#include <cstddef>
#include <cstdint>

#include "config/pool_config.h"

namespace ringproxy::proxy {

struct FlowLimits {
  size_t max_pending_requests = 8192;
  size_t max_pending_request_bytes = 32u << 20;
  config::OutputBufferLimit output;
  uint64_t query_buffer_bytes = uint64_t{64} << 20;
};

// One client's counts.
struct FlowState {
  size_t pending_requests = 0;       // sent toward servers, no reply yet
  size_t pending_request_bytes = 0;  // their bytes as the client sent them
  size_t held_reply_bytes = 0;       // replies in the proxy, ready or waiting behind others
  size_t writable_reply_bytes = 0;   // of those, the ones the client could take now
  size_t unforwarded_bytes = 0;      // requests read and held back (parsed or not)
  size_t reply_estimate = 0;         // bytes a reply of this client is reckoned at
};

enum class OutputVerdict : uint8_t {
  kKeep,
  kOverHardLimit,
  kStalledAtSoftLimit,  // held at the soft limit, replies ready, no byte either way for a while
};

class FlowControl {
 public:
  // The replies a client may have coming (held, and reckoned for its requests in flight) before
  // its requests wait: the soft limit, or this when the soft limit is off.
  static constexpr uint64_t kDefaultWindowBytes = uint64_t{32} << 20;
  static uint64_t WindowBytes(const FlowLimits& limits) {
    return limits.output.soft_bytes != 0 ? limits.output.soft_bytes : kDefaultWindowBytes;
  }
  // A new client's replies are reckoned large until its first replies say otherwise: the
  // first burst of a client asking for large values stays within the window too.
  static size_t InitialReplyEstimate(const FlowLimits& limits) {
    return static_cast<size_t>(WindowBytes(limits) / 64);
  }
  // After each reply: a large one counts at once, small ones halve the estimate, so a client of
  // small replies has its whole window back within one round trip.
  static size_t NextReplyEstimate(size_t estimate, size_t reply_bytes) {
    return reply_bytes > estimate / 2 ? reply_bytes : estimate / 2;
  }

  // Whether one more request may be forwarded now, by its expected replies. Once held replies
  // have stopped it, forwarding resumes below half the window, so a client near the limit does
  // not flap. `forwarding`: whether it forwards now.
  static bool ShouldForward(const FlowLimits& limits, const FlowState& state, bool forwarding) {
    const uint64_t window = WindowBytes(limits);
    if (state.held_reply_bytes >= (forwarding ? window : window / 2)) return false;
    return InFlightWithinWindow(limits, state.held_reply_bytes, state.pending_requests,
                                state.reply_estimate);
  }
  static bool InFlightWithinWindow(const FlowLimits& limits, size_t held, size_t pending,
                                   size_t estimate) {
    // One request may always be in flight, however large its reply.
    return pending == 0 || pending < DispatchLimit(limits, held, estimate);
  }
  // How many requests may be in flight with `held` bytes of replies held: those whose replies,
  // reckoned at `estimate` each, still fit in the window (held + pending x estimate < window).
  static size_t DispatchLimit(const FlowLimits& limits, size_t held, size_t estimate) {
    const uint64_t window = WindowBytes(limits);
    if (held >= window) return 0;
    const uint64_t each = estimate == 0 ? 1 : estimate;
    return static_cast<size_t>((window - held + each - 1) / each);
  }

  // Whether to read the client's socket now. `reading`: whether it reads now; `forwarding`:
  // whether requests are being forwarded. A paused client is read again once below half of what
  // paused it.
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

  // Whether a client must go. `incoming`: reply bytes about to be added; `forwarding`: whether
  // its requests are forwarded; `stalled_ns`: how long since it last took or sent a byte.
  static OutputVerdict CheckOutput(const FlowLimits& limits, const FlowState& state,
                                   size_t incoming, bool forwarding, uint64_t stalled_ns) {
    const uint64_t held = uint64_t{state.held_reply_bytes} + incoming;
    if (limits.output.hard_bytes != 0 && held > limits.output.hard_bytes) {
      return OutputVerdict::kOverHardLimit;
    }
    if (limits.output.soft_bytes != 0 && !forwarding && state.writable_reply_bytes > 0 &&
        state.held_reply_bytes >= limits.output.soft_bytes / 2 &&
        stalled_ns >= limits.output.soft_seconds * 1000000000) {
      return OutputVerdict::kStalledAtSoftLimit;
    }
    return OutputVerdict::kKeep;
  }
};

}  // namespace ringproxy::proxy
