#include "observability/stats_view.h"

#include <string_view>
#include <unordered_map>

namespace ringproxy::proxy {

StatsView StatsView::Gather(const StatsRegistry& registry, const config::Config& config) {
  std::vector<const config::PoolConfig*> pools;
  pools.reserve(config.pools.size());
  for (const config::PoolConfig& pool : config.pools) pools.push_back(&pool);
  return Gather(registry, pools);
}

StatsView StatsView::Gather(const StatsRegistry& registry,
                            const std::vector<const config::PoolConfig*>& pools) {
  StatsView view;
  // Where each pool and server of the layout sits in the view, so that one pass over the
  // registry files every stats object: O(entries x servers), not a search per server.
  std::unordered_map<std::string_view, size_t> pool_index;
  std::vector<std::unordered_map<std::string_view, size_t>> server_index(pools.size());
  view.pools_.reserve(pools.size());
  for (size_t p = 0; p < pools.size(); ++p) {
    const config::PoolConfig& config = *pools[p];
    Pool pool;
    pool.name = config.name;
    pool.servers.reserve(config.servers.size());
    for (size_t s = 0; s < config.servers.size(); ++s) {
      pool.servers.push_back(Server{config.servers[s].name, {}});
      server_index[p].emplace(config.servers[s].name, s);
    }
    pool_index.emplace(config.name, p);
    view.pools_.push_back(std::move(pool));
  }
  registry.ForEach([&](const StatsRegistry::Entry& entry) {
    const auto found = pool_index.find(entry.pool);
    if (found == pool_index.end()) return;
    Pool& pool = view.pools_[found->second];
    if (entry.pool_stats != nullptr) pool.workers.push_back(entry.pool_stats);
    const auto& servers = server_index[found->second];
    for (const auto& server : entry.servers) {
      const auto at = servers.find(server->name);
      if (at != servers.end()) pool.servers[at->second].workers.push_back(server);
    }
  });
  return view;
}

}  // namespace ringproxy::proxy
