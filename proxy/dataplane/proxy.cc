#include "dataplane/proxy.h"

#include <unistd.h>

#include <algorithm>

#include "base/logger.h"
#include "dataplane/worker.h"
#include "net/listen_socket.h"

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

// "pool 'alpha' servers: 127.0.0.1:7001:1 shard-0 (127.0.0.1:7001), ...", as the lines of its
// configuration and where each resolved, over as many log lines as a long list needs.
void LogServers(const TopologyPool& pool) {
  constexpr size_t kMaxLine = 1000;
  const std::vector<config::ServerConfig>& servers = pool.config.servers;
  std::string line;
  for (size_t i = 0; i < servers.size(); ++i) {
    const config::ServerConfig& server = servers[i];
    if (!line.empty()) line += ", ";
    line += server.unix_path.empty() ? server.host + ":" + std::to_string(server.port)
                                     : server.unix_path;
    line += ":" + std::to_string(server.weight) + " " + server.name;
    const SocketAddress& address = pool.server_addresses[i];
    line += address.length != 0 ? " (" + address.ToString() + ")" : " (unresolved)";
    if (line.size() >= kMaxLine || i + 1 == servers.size()) {
      RP_LOG(kLogNotice, "pool '%s' servers: %s", pool.config.name.c_str(), line.c_str());
      line.clear();
    }
  }
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
    const int fd = OpenListenSocket(pool.listen, pool.backlog, PortSharing::kExclusive, error);
    if (fd < 0) return false;
    for (size_t w = 0; w < count; ++w) (*fds)[w] = w == 0 ? fd : ::dup(fd);
    return true;
  }
  for (size_t w = 0; w < count; ++w) {
    PortSharing sharing = PortSharing::kExclusive;
    if (pool.reuseport) {
      sharing = PortSharing::kAnyProcess;
    } else if (count > 1) {
      sharing = w == 0 ? PortSharing::kFirstOfGroup : PortSharing::kJoinGroup;
    }
    const int fd = OpenListenSocket(pool.listen, pool.backlog, sharing, error);
    if (fd < 0) {
      for (size_t i = 0; i < w; ++i) ::close((*fds)[i]);
      return false;
    }
    (*fds)[w] = fd;
  }
  return true;
}

bool Proxy::SameListenAddress(const config::ListenAddress& a, const config::ListenAddress& b) {
  if (a == b) return true;
  SocketAddress resolved_a;
  SocketAddress resolved_b;
  std::string error;
  return ResolveListenAddress(a, &resolved_a, &error) &&
         ResolveListenAddress(b, &resolved_b, &error) && resolved_a == resolved_b;
}

const TopologyPool* Proxy::RunningPool(const std::string& name) const {
  if (topology_ == nullptr) return nullptr;
  for (const TopologyPool& pool : topology_->pools) {
    if (pool.config.name == name) return &pool;
  }
  return nullptr;
}

bool Proxy::CheckListeners(const config::Config& config, std::string* error) const {
  if (!CheckListenAddresses(config.pools, error)) return false;
  for (const config::PoolConfig& pool : config.pools) {
    const TopologyPool* running = RunningPool(pool.name);
    if (running != nullptr && SameListenAddress(running->config.listen, pool.listen)) continue;
    // `reuseport: true` shares the port on purpose.
    if (pool.reuseport) continue;
    if (!ProbeListenAddress(pool.listen, error)) {
      *error = "pool '" + pool.name + "': " + *error;
      return false;
    }
  }
  return true;
}

bool Proxy::Start(std::shared_ptr<const Topology> topology, const ProxySettings& settings,
                  std::string* error) {
  topology_ = std::move(topology);
  const int count = std::max(1, settings.workers);
  admission_ = std::make_unique<ClientAdmission>(settings.max_clients);
  std::vector<config::PoolConfig> pools;
  for (const TopologyPool& pool : topology_->pools) pools.push_back(pool.config);
  if (!CheckListenAddresses(pools, error)) return false;
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
    LogServers(pool);
  }
  return true;
}

bool Proxy::Update(std::shared_ptr<const Topology> topology, std::string* error) {
  const size_t count = workers_.size();
  // fds[w][p]: the new socket of pool p for worker w, or -1 to keep the current listener.
  std::vector<std::vector<int>> fds(count, std::vector<int>(topology->pools.size(), -1));
  for (size_t p = 0; p < topology->pools.size(); ++p) {
    const config::PoolConfig& pool = topology->pools[p].config;
    // The same address spelt differently (localhost for 127.0.0.1) keeps its listener: a new
    // one could not be bound beside it.
    const TopologyPool* old = RunningPool(pool.name);
    if (old != nullptr && SameListenAddress(old->config.listen, pool.listen)) continue;
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
