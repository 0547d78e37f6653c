// StatsService: the stats port of a running Proxy — the StatsServer, fed by the JSON document
// (StatsJson, refreshed every -i ms), the Prometheus collector (MetricsCollector, read fresh at
// every scrape) and the health and readiness probes. Lives on the control thread's loop.
//
// The control plane creates it once the proxy has started and closes it once the proxy has
// drained: during the drain it keeps answering, /readyz with 503.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "observability/metrics_collector.h"
#include "observability/stats_json.h"
#include "observability/stats_server.h"
#include "stats/control_stats.h"

namespace ringproxy::proxy {

class Proxy;

class StatsService {
 public:
  // A worker loop that has not ticked for this long is stuck (its tick runs every 100 ms or
  // faster, and a busy loop still runs its timers once per iteration); /healthz then fails.
  static constexpr uint64_t kMaxTickAgeNs = 2'000'000'000;

  struct Settings {
    std::string address = "0.0.0.0";    // -a
    uint16_t port = 22222;              // -s
    uint64_t json_interval_ms = 30000;  // -i: how old the JSON document's counters may be
  };

  // Borrows `loop`, `proxy` (started) and `control`; all must outlive the service, and the loop
  // must run until the service's handles have closed (see StatsServer).
  StatsService(uv_loop_t* loop, const Proxy* proxy, const ControlStats* control,
               const Settings& settings);
  StatsService(const StatsService&) = delete;
  StatsService& operator=(const StatsService&) = delete;

  // Binds stats_addr:stats_port. False with `error` set when it cannot.
  bool Start(std::string* error);
  int port() const { return server_.port(); }
  // Closes the stats port and its connections. Idempotent.
  void Close() { server_.Close(); }

 private:
  StatsView Gather() const;
  StatsServer::Probe Health() const;
  StatsServer::Probe Ready() const;

  uv_loop_t* loop_;
  const Proxy* proxy_;
  StatsJson json_;
  MetricsCollector metrics_;
  StatsServer server_;
  uint64_t started_ns_;
};

}  // namespace ringproxy::proxy
