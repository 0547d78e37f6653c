#include "proxy/proxy.h"

#include <unistd.h>

#include "proxy/listen_socket.h"
#include "proxy/logger.h"
#include "proxy/worker.h"

namespace ringproxy::proxy {

Proxy::Proxy() = default;

Proxy::~Proxy() {
  Drain();
  Join();
}

bool Proxy::Start(const config::Config& config, const ProxySettings& settings, std::string* error) {
  topology_ = Topology::Build(config, error);
  if (topology_ == nullptr) return false;
  const int count = std::max(1, settings.workers);
  // Listening sockets first, all of them, so a port in use fails startup before any thread runs.
  std::vector<std::vector<int>> fds(static_cast<size_t>(count));
  for (const TopologyPool& pool : topology_->pools) {
    int unix_fd = -1;
    for (int w = 0; w < count; ++w) {
      int fd = -1;
      if (pool.config.listen.is_unix()) {
        // One unix socket, shared: every worker accepts from it.
        if (unix_fd < 0)
          unix_fd = OpenListenSocket(pool.config.listen, pool.config.backlog, false, error);
        fd = unix_fd < 0 ? -1 : (w == 0 ? unix_fd : ::dup(unix_fd));
      } else {
        fd = OpenListenSocket(pool.config.listen, pool.config.backlog,
                              count > 1 || pool.config.reuseport, error);
      }
      if (fd < 0) {
        *error = "pool '" + pool.config.name + "': " + *error;
        for (auto& worker_fds : fds) {
          for (const int open_fd : worker_fds) ::close(open_fd);
        }
        return false;
      }
      fds[static_cast<size_t>(w)].push_back(fd);
    }
  }
  for (int w = 0; w < count; ++w) {
    auto worker = std::make_unique<Worker>(w, topology_, settings.worker, count, &stats_);
    if (!worker->Listen(fds[static_cast<size_t>(w)], error)) return false;
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) worker->Start();
  serving_.store(true);
  for (const TopologyPool& pool : topology_->pools) {
    RP_LOG(kLogNotice, "pool '%s' listening on %s with %zu servers, %d workers",
           pool.config.name.c_str(),
           pool.config.listen.is_unix()
               ? pool.config.listen.unix_path.c_str()
               : (pool.config.listen.host + ":" + std::to_string(pool.config.listen.port)).c_str(),
           pool.config.servers.size(), count);
  }
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
