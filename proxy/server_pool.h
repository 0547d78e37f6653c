// ServerPool: one configured pool as one worker sees it — its servers (with their connections)
// and the placement that maps keys to them. The placement is the topology's until a server is
// ejected (auto_eject_hosts); then this worker routes over a placement of the live servers only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "hashing/placement.h"
#include "proxy/stats.h"
#include "proxy/topology.h"

namespace ringproxy::proxy {

class Server;
class Worker;

class ServerPool {
 public:
  ServerPool(Worker* worker, const TopologyPool* pool);
  ~ServerPool();
  ServerPool(const ServerPool&) = delete;
  ServerPool& operator=(const ServerPool&) = delete;

  const config::PoolConfig& config() const { return pool_->config; }
  PoolStats& stats() { return *stats_; }
  // The server owning `key`, or null when no server is live.
  Server* ServerForKey(std::string_view key) {
    const uint32_t index = placement_->ServerFor(key);
    return index == hashing::Continuum::kNoServer ? nullptr : servers_[index].get();
  }
  size_t server_count() const { return servers_.size(); }
  Server& server(size_t i) { return *servers_[i]; }

  void Preconnect();
  // Periodic: request timeouts, and ejected servers coming back.
  void Tick(uint64_t now_ns);
  // A server was ejected or came back: route over the servers that are live now.
  void RebuildPlacement();
  void CloseAll();

 private:
  Worker* worker_;
  const TopologyPool* pool_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::optional<hashing::Placement> ejected_placement_;
  const hashing::Placement* placement_;
  std::shared_ptr<PoolStats> stats_;
};

}  // namespace ringproxy::proxy
