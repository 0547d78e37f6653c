#include "dataplane/topology.h"

namespace ringproxy::proxy {

hashing::Placement BuildPlacement(const config::PoolConfig& pool, const std::vector<bool>& live) {
  std::vector<hashing::ServerWeight> weights;
  weights.reserve(pool.servers.size());
  for (size_t i = 0; i < pool.servers.size(); ++i) {
    weights.push_back({pool.servers[i].name, pool.servers[i].weight, live.empty() || live[i]});
  }
  return hashing::Placement(pool.hash, pool.hash_tag,
                            hashing::Continuum::Build(pool.distribution, weights),
                            static_cast<uint32_t>(pool.servers.size()));
}

std::shared_ptr<const Topology> Topology::Build(const config::Config& config, std::string* error) {
  auto topology = std::make_shared<Topology>();
  for (const config::PoolConfig& pool : config.pools) {
    std::vector<SocketAddress> addresses(pool.servers.size());
    for (size_t i = 0; i < pool.servers.size(); ++i) {
      const config::ServerConfig& server = pool.servers[i];
      if (!ResolveAddress(server.host, server.port, server.unix_path, &addresses[i], error)) {
        *error = "pool '" + pool.name + "' server '" + server.name + "': " + *error;
        return nullptr;
      }
    }
    topology->pools.push_back(
        TopologyPool{pool, std::move(addresses), BuildPlacement(pool, {}), PoolTls{}});
  }
  return topology;
}

}  // namespace ringproxy::proxy
