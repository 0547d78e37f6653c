// Topology: an immutable snapshot of what the workers route over — each pool's configuration, its
// servers' resolved addresses and its placement. The control thread builds it; workers share it
// read-only through a shared_ptr.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "hashing/placement.h"
#include "net/socket_address.h"
#include "net/tls_context.h"

namespace ringproxy::proxy {

struct TopologyPool {
  config::PoolConfig config;
  std::vector<SocketAddress> server_addresses;  // parallel to config.servers
  hashing::Placement placement;
  PoolTls tls;  // built by the control thread from config's tls / server_tls files
};

struct Topology {
  std::vector<TopologyPool> pools;

  // Resolves every server (blocking; at startup only) and builds each pool's placement.
  // Returns null and sets `error` when a name cannot be resolved.
  static std::shared_ptr<const Topology> Build(const config::Config& config, std::string* error);
};

// Builds a pool's placement over the servers marked live (all when `live` is empty).
hashing::Placement BuildPlacement(const config::PoolConfig& pool, const std::vector<bool>& live);

}  // namespace ringproxy::proxy
