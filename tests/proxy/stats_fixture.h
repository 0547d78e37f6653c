// StatsFixture: a StatsRegistry with two workers' counters at known values and the configuration
// that lays them out, for the JSON and metrics exporter tests.
//
//   pool "alpha": servers "s0", "127.0.0.1:6379" (in that order: nutcracker's sorted order)
//   pool "beta":  server "b0"
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

struct StatsFixture {
  StatsFixture() {
    config.pools.push_back(Pool("alpha", {"s0", "127.0.0.1:6379"}));
    config.pools.push_back(Pool("beta", {"b0"}));
    for (int worker = 0; worker < 2; ++worker) {
      alpha[worker] = registry.RegisterPool(worker, "alpha");
      beta[worker] = registry.RegisterPool(worker, "beta");
      s0[worker] = registry.RegisterServer(worker, "alpha", "s0");
      local[worker] = registry.RegisterServer(worker, "alpha", "127.0.0.1:6379");
      b0[worker] = registry.RegisterServer(worker, "beta", "b0");
    }
  }

  static config::PoolConfig Pool(const std::string& name, const std::vector<std::string>& servers) {
    config::PoolConfig pool;
    pool.name = name;
    for (const std::string& server_name : servers) {
      config::ServerConfig server;
      server.name = server_name;
      pool.servers.push_back(server);
    }
    return pool;
  }

  StatsRegistry registry;
  config::Config config;
  std::shared_ptr<PoolStats> alpha[2];
  std::shared_ptr<PoolStats> beta[2];
  std::shared_ptr<ServerStats> s0[2];
  std::shared_ptr<ServerStats> local[2];
  std::shared_ptr<ServerStats> b0[2];
};

}  // namespace ringproxy::proxy
