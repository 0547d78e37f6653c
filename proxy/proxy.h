// Proxy: the running data plane — a topology and the workers serving it. The control thread
// (proxy_runner.cc) owns one, starts it, and drains it on SIGTERM.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "proxy/stats.h"
#include "proxy/topology.h"
#include "proxy/worker_settings.h"

namespace ringproxy::proxy {

class Worker;

struct ProxySettings {
  int workers = 1;
  WorkerSettings worker;
};

class Proxy {
 public:
  Proxy();
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Resolves the servers, opens every pool's listeners and starts the workers.
  bool Start(const config::Config& config, const ProxySettings& settings, std::string* error);
  // Thread-safe: every worker stops accepting, finishes what is in flight and exits its loop.
  void Drain();
  // Waits for every worker to finish.
  void Join();

  int workers() const { return static_cast<int>(workers_.size()); }
  // Thread-safe. The oldest last-tick time over all workers (uv_hrtime clock): a loop that
  // stopped turning holds it back.
  uint64_t OldestWorkerTickNs() const;
  // Thread-safe. True once Start succeeded, until Drain.
  bool serving() const { return serving_.load(); }
  const StatsRegistry& stats() const { return stats_; }
  std::shared_ptr<const Topology> topology() const { return topology_; }

 private:
  StatsRegistry stats_;
  std::atomic<bool> serving_{false};
  std::shared_ptr<const Topology> topology_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace ringproxy::proxy
