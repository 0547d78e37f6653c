// StatsView: one reading of the workers' counters, arranged as the stats documents show them —
// pools in configuration order, each pool's servers in nutcracker's server order — with every
// worker's stats object for each. The exporters sum over workers from it; nothing is copied out of
// the counters until then, so a reading costs a pass over the registry and no more.
//
// The view shares ownership of the stats objects: it stays valid however long it is kept, even if
// a reload drops a server meanwhile. Stats of pools or servers the given layout does not name
// (dropped by a reload) are left out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class StatsView {
 public:
  struct Server {
    std::string name;
    std::vector<std::shared_ptr<const ServerStats>> workers;  // one per worker that has it
  };
  struct Pool {
    std::string name;
    std::vector<std::shared_ptr<const PoolStats>> workers;  // one per worker that has it
    std::vector<Server> servers;                            // in the pool's server order
  };

  // Thread-safe (takes the registry's lock while it reads the list of stats objects).
  // `pools` in the order the documents list them (the running topology's, on the control
  // thread).
  static StatsView Gather(const StatsRegistry& registry,
                          const std::vector<const config::PoolConfig*>& pools);
  static StatsView Gather(const StatsRegistry& registry, const config::Config& config);

  const std::vector<Pool>& pools() const { return pools_; }

  // The process's value of one field: `read` applied to each worker's object, summed.
  template <typename Stats, typename Read>
  static int64_t Sum(const std::vector<std::shared_ptr<const Stats>>& workers, Read read) {
    int64_t total = 0;
    for (const auto& stats : workers) total += read(*stats);
    return total;
  }
  // The latest of a timestamp field over workers.
  template <typename Stats, typename Read>
  static int64_t Max(const std::vector<std::shared_ptr<const Stats>>& workers, Read read) {
    int64_t latest = 0;
    for (const auto& stats : workers) latest = std::max(latest, read(*stats));
    return latest;
  }

 private:
  std::vector<Pool> pools_;
};

}  // namespace ringproxy::proxy
