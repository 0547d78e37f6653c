#include "proxy/proxy.h"

#include <unistd.h>

#include <algorithm>

#include "proxy/listen_socket.h"
#include "proxy/logger.h"
#include "proxy/worker.h"

namespace ringproxy::proxy {
namespace {

void CloseAll(const std::vector<std::vector<int>>& fds) {
  for (const auto& worker_fds : fds) {
    for (const int fd : worker_fds) {
      if (fd >= 0) ::close(fd);
    }
  }
}

std::string ListenText(const config::ListenAddress& listen) {
  return listen.is_unix() ? listen.unix_path : listen.host + ":" + std::to_string(listen.port);
}

}  // namespace

Proxy::Proxy() = default;

Proxy::~Proxy() {
  Drain();
  Join();
}

bool Proxy::OpenListeners(const config::PoolConfig& pool, std::vector<int>* fds,
                          std::string* error) {
  const size_t count = fds->size();
  if (pool.listen.is_unix()) {
    // One unix socket, shared: every worker accepts from it.
    const int fd = OpenListenSocket(pool.listen, pool.backlog, false, error);
    if (fd < 0) return false;
    for (size_t w = 0; w < count; ++w) (*fds)[w] = w == 0 ? fd : ::dup(fd);
    return true;
  }
  for (size_t w = 0; w < count; ++w) {
    const int fd = OpenListenSocket(pool.listen, pool.backlog, reuseport_ || pool.reuseport, error);
    if (fd < 0) {
      for (size_t i = 0; i < w; ++i) ::close((*fds)[i]);
      return false;
    }
    (*fds)[w] = fd;
  }
  return true;
}

bool Proxy::Start(std::shared_ptr<const Topology> topology, const ProxySettings& settings,
                  std::string* error) {
  topology_ = std::move(topology);
  const int count = std::max(1, settings.workers);
  reuseport_ = count > 1;
  admission_ = std::make_unique<ClientAdmission>(settings.max_clients);
  // Listening sockets first, all of them, so a port in use fails startup before any thread runs.
  std::vector<std::vector<int>> fds(static_cast<size_t>(count));
  for (const TopologyPool& pool : topology_->pools) {
    std::vector<int> pool_fds(static_cast<size_t>(count), -1);
    if (!OpenListeners(pool.config, &pool_fds, error)) {
      *error = "pool '" + pool.config.name + "': " + *error;
      CloseAll(fds);
      return false;
    }
    for (size_t w = 0; w < pool_fds.size(); ++w) fds[w].push_back(pool_fds[w]);
  }
  for (int w = 0; w < count; ++w) {
    auto worker =
        std::make_unique<Worker>(w, topology_, settings.worker, count, &stats_, admission_.get());
    if (!worker->Listen(fds[static_cast<size_t>(w)], error)) return false;
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) worker->Start();
  serving_.store(true);
  for (const TopologyPool& pool : topology_->pools) {
    RP_LOG(kLogNotice, "pool '%s' listening on %s with %zu servers, %d workers",
           pool.config.name.c_str(), ListenText(pool.config.listen).c_str(),
           pool.config.servers.size(), count);
  }
  return true;
}

bool Proxy::Update(std::shared_ptr<const Topology> topology, std::string* error) {
  const size_t count = workers_.size();
  // fds[w][p]: the new socket of pool p for worker w, or -1 to keep the current listener.
  std::vector<std::vector<int>> fds(count, std::vector<int>(topology->pools.size(), -1));
  for (size_t p = 0; p < topology->pools.size(); ++p) {
    const config::PoolConfig& pool = topology->pools[p].config;
    const auto old =
        std::find_if(topology_->pools.begin(), topology_->pools.end(),
                     [&](const TopologyPool& o) { return o.config.name == pool.name; });
    if (old != topology_->pools.end() && old->config.listen == pool.listen) continue;
    std::vector<int> pool_fds(count, -1);
    if (!OpenListeners(pool, &pool_fds, error)) {
      *error = "pool '" + pool.name + "': " + *error;
      CloseAll(fds);
      return false;
    }
    RP_LOG(kLogNotice, "pool '%s' now listening on %s", pool.name.c_str(),
           ListenText(pool.listen).c_str());
    for (size_t w = 0; w < count; ++w) fds[w][p] = pool_fds[w];
  }
  topology_ = std::move(topology);
  for (size_t w = 0; w < count; ++w) workers_[w]->UpdateTopology(topology_, std::move(fds[w]));
  return true;
}

void Proxy::Drain() {
  serving_.store(false);
  for (auto& worker : workers_) worker->Drain();
}

uint64_t Proxy::OldestWorkerTickNs() const {
  uint64_t oldest = UINT64_MAX;
  for (const auto& worker : workers_) oldest = std::min(oldest, worker->last_tick_ns());
  return workers_.empty() ? 0 : oldest;
}

void Proxy::Join() {
  for (auto& worker : workers_) worker->Join();
}

}  // namespace ringproxy::proxy
