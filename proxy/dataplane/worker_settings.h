#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dataplane/flow_control.h"
#include "dataplane/pubsub_registry.h"
#include "dataplane/request_parser.h"

namespace ringproxy::proxy {

// Limits and knobs every worker applies; one copy per worker, set at startup.
struct WorkerSettings {
  RequestLimits limits;
  // Flow control (flow_control.h). A pool's client_output_buffer_limit and
  // client_query_buffer_limit replace `flow.output` and `flow.query_buffer_bytes` for its clients.
  FlowLimits flow;
  // SIGTERM: how long in-flight requests may take before the remaining clients are closed.
  uint64_t drain_timeout_ms = 30000;
  // Called on the worker's thread when a connection to a server fails (pool name, server name),
  // so the control thread can look the name up again at once. Must be thread-safe.
  std::function<void(const std::string&, const std::string&)> on_server_failure;
  // Subscriptions over every worker (pubsub_registry.h): the workers' copies of these settings
  // share the one made with the original.
  std::shared_ptr<PubSubRegistry> pubsub = std::make_shared<PubSubRegistry>();
};

}  // namespace ringproxy::proxy
