// PoolLink: the pool a Server belongs to, as the server sees it: the pool's current settings
// (a reload may replace them), its stats, and where a server says its liveness changed. Called
// when a connection opens, fails or is pinned, and on the periodic tick: never per request.
// ServerPool implements it.
#pragma once

#include "config/pool_config.h"
#include "net/tls_context.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class PoolLink {
 public:
  virtual const config::PoolConfig& config() const = 0;
  virtual const PoolTls& tls() const = 0;
  virtual PoolStats& stats() = 0;
  // A server was ejected (auto_eject_hosts) or came back: route over the live servers.
  virtual void RebuildPlacement() = 0;

 protected:
  ~PoolLink() = default;
};

}  // namespace ringproxy::proxy
