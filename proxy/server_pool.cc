#include "proxy/server_pool.h"

#include "proxy/server.h"
#include "proxy/worker.h"

namespace ringproxy::proxy {

ServerPool::ServerPool(Worker* worker, const TopologyPool* pool)
    : worker_(worker),
      pool_(pool),
      placement_(&pool->placement),
      stats_(worker->stats()->RegisterPool(worker->id(), pool->config.name)) {
  servers_.reserve(pool->config.servers.size());
  for (size_t i = 0; i < pool->config.servers.size(); ++i) {
    servers_.push_back(
        std::make_unique<Server>(worker, this, pool->config.servers[i], pool->server_addresses[i]));
  }
}

ServerPool::~ServerPool() = default;

void ServerPool::Preconnect() {
  for (auto& server : servers_) server->Preconnect();
}

void ServerPool::Tick(uint64_t now_ns) {
  bool changed = false;
  for (auto& server : servers_) changed |= server->Tick(now_ns);
  if (changed) RebuildPlacement();
}

void ServerPool::RebuildPlacement() {
  std::vector<bool> live(servers_.size());
  bool all_live = true;
  for (size_t i = 0; i < servers_.size(); ++i) {
    live[i] = !servers_[i]->ejected();
    all_live &= live[i];
  }
  if (all_live) {
    ejected_placement_.reset();
    placement_ = &pool_->placement;
    return;
  }
  ejected_placement_.emplace(BuildPlacement(pool_->config, live));
  placement_ = &*ejected_placement_;
}

void ServerPool::CloseAll() {
  for (auto& server : servers_) server->CloseAll();
}

}  // namespace ringproxy::proxy
