// Proxy: the running data plane — a topology and the workers serving it. The control thread
// (proxy_runner.cc) owns one, starts it, and drains it on SIGTERM.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/pool_config.h"
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

 private:
  std::shared_ptr<const Topology> topology_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace ringproxy::proxy
