#include "controlplane/stats_service.h"

#include <unistd.h>

#include <climits>

#include "base/clock.h"
#include "dataplane/proxy.h"

namespace ringproxy::proxy {
namespace {

constexpr uint64_t kNsPerMs = 1000000;

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

StatsService::StatsService(uv_loop_t* loop, const Proxy* proxy, const ControlStats* control,
                           const Settings& settings)
    : loop_(loop),
      proxy_(proxy),
      json_(StatsJson::Identity{"ringproxy", HostName(), RINGPROXY_VERSION, clock::UnixSeconds()},
            settings.json_interval_ms),
      metrics_(
          MetricsCollector::Identity{RINGPROXY_VERSION, proxy->workers(), clock::UnixSeconds()},
          [this] { return Gather(); }, control),
      server_(loop, StatsServer::Settings{.address = settings.address, .port = settings.port},
              StatsServer::Handlers{
                  .json =
                      [this] {
                        return json_.Document([this] { return Gather(); }, clock::UnixSeconds(),
                                              uv_now(loop_));
                      },
                  .metrics = [this] { return metrics_.Text(); },
                  .health = [this] { return Health(); },
                  .ready = [this] { return Ready(); },
              }),
      started_ns_(clock::MonotonicNs()) {}

bool StatsService::Start(std::string* error) { return server_.Start(error); }

StatsView StatsService::Gather() const {
  const std::shared_ptr<const Topology> topology = proxy_->topology();
  if (topology == nullptr) return {};
  std::vector<const config::PoolConfig*> pools;
  pools.reserve(topology->pools.size());
  for (const TopologyPool& pool : topology->pools) pools.push_back(&pool.config);
  return StatsView::Gather(proxy_->stats(), pools);
}

StatsServer::Probe StatsService::Health() const {
  // Draining workers stop their loops on purpose: that is not a fault to restart the process for.
  if (!proxy_->serving()) return {true, "ok: draining"};
  // A worker that has not ticked yet is measured from the service's start.
  const uint64_t last = std::max(proxy_->OldestWorkerTickNs(), started_ns_);
  const uint64_t now = clock::MonotonicNs();
  const uint64_t age = now > last ? now - last : 0;
  if (age > kMaxTickAgeNs) {
    return {false, "a worker loop has not turned for " + std::to_string(age / kNsPerMs) + " ms"};
  }
  return {true, "ok"};
}

StatsServer::Probe StatsService::Ready() const {
  if (!proxy_->serving()) return {false, "draining: not accepting new connections"};
  return {true, "ready"};
}

}  // namespace ringproxy::proxy
