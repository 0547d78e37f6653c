// Proxy: the running data plane — the current topology and the workers serving it. The control
// thread (proxy_runner.cc) owns one: starts it, publishes new topologies to it (DNS changes,
// reloads), and drains it on SIGTERM.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "dataplane/client_admission.h"
#include "dataplane/topology.h"
#include "dataplane/worker_settings.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class Worker;

struct ProxySettings {
  int workers = 1;
  // --max-clients: client connections over all pools at once; 0: no limit.
  int64_t max_clients = 0;
  WorkerSettings worker;
};

class Proxy {
 public:
  Proxy();
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Opens every pool's listeners and starts the workers over `topology`.
  bool Start(std::shared_ptr<const Topology> topology, const ProxySettings& settings,
             std::string* error);
  // Control thread: every worker adopts `topology` between requests. Listeners of new pools and
  // of pools whose listen address changed are opened first; if one cannot be, nothing changes
  // and false is returned.
  bool Update(std::shared_ptr<const Topology> topology, std::string* error);
  // Control thread, before a reload is accepted: whether `config`'s listen addresses overlap one
  // another, or one that is new or changed is held by another process (or another pool).
  bool CheckListeners(const config::Config& config, std::string* error) const;
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
  // Control thread.
  std::shared_ptr<const Topology> topology() const { return topology_; }

 private:
  // One listening socket per worker for `pool` (an SO_REUSEPORT group of this process only,
  // unless the pool says `reuseport: true`), or one shared unix socket.
  bool OpenListeners(const config::PoolConfig& pool, std::vector<int>* fds, std::string* error);
  // Whether both listen on the same address, however spelt (localhost and 127.0.0.1).
  static bool SameListenAddress(const config::ListenAddress& a, const config::ListenAddress& b);
  // The running topology's pool named `name`, or null.
  const TopologyPool* RunningPool(const std::string& name) const;

  StatsRegistry stats_;
  std::unique_ptr<ClientAdmission> admission_;  // set by Start; shared by the workers
  std::atomic<bool> serving_{false};
  std::shared_ptr<const Topology> topology_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace ringproxy::proxy
