// Topology: an immutable snapshot of what the workers route over — each pool's configuration, its
// servers' resolved addresses and its placement. The control thread builds it; workers share it
// read-only through a shared_ptr.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "hashing/placement.h"
#include "proxy/tls_context.h"

namespace ringproxy::proxy {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  bool is_unix() const { return storage.ss_family == AF_UNIX; }
  std::string ToString() const;
  bool operator==(const SocketAddress& other) const;
};

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

// Resolves host:port (first address, as nutcracker) or a unix path. Blocking.
bool ResolveAddress(const std::string& host, uint16_t port, const std::string& unix_path,
                    SocketAddress* out, std::string* error);

// Builds a pool's placement over the servers marked live (all when `live` is empty).
hashing::Placement BuildPlacement(const config::PoolConfig& pool, const std::vector<bool>& live);

}  // namespace ringproxy::proxy
