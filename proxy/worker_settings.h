#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "proxy/request_parser.h"

namespace ringproxy::proxy {

// Limits and knobs every worker applies; one copy per worker, set at startup.
struct WorkerSettings {
  RequestLimits limits;
  // Back-pressure: a client with more requests in flight, or more reply bytes not yet taken by
  // its socket, is not read from until it drains below half of these.
  size_t client_max_pending_requests = 8192;
  size_t client_max_pending_bytes = 32u << 20;
  // Replies already requested keep arriving after a client is paused. A client holding more
  // than this (written-out replies it has not read, plus replies waiting behind slower ones) is
  // disconnected, as Redis's client-output-buffer-limit does: one client that never reads must
  // not take the proxy's memory.
  size_t client_max_output_bytes = 64u << 20;
  // SIGTERM: how long in-flight requests may take before the remaining clients are closed.
  uint64_t drain_timeout_ms = 30000;
  // Called on the worker's thread when a connection to a server fails (pool name, server name),
  // so the control thread can look the name up again at once. Must be thread-safe.
  std::function<void(const std::string&, const std::string&)> on_server_failure;
};

}  // namespace ringproxy::proxy
