#include "dataplane/server_pool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "base/clock.h"
#include "base/logger.h"
#include "dataplane/client_admission.h"
#include "dataplane/client_session.h"
#include "dataplane/pubsub_hub.h"
#include "dataplane/server.h"

namespace ringproxy::proxy {
namespace {

// A flood of refused connections must not become a flood of log lines.
constexpr uint64_t kRejectionLogIntervalMs = 1000;

}  // namespace

ServerPool::ServerPool(WorkerContext* context, std::shared_ptr<const Topology> topology,
                       const TopologyPool* pool)
    : context_(context),
      topology_(std::move(topology)),
      pool_(pool),
      placement_(&pool->placement),
      stats_(context->stats()->RegisterPool(context->id(), pool->config.name)),
      client_count_(context->admission()->PoolCount(pool->config.name)),
      auth_failures_(context->id(), pool->config.name, &stats_->client_auth_failures),
      pubsub_(std::make_unique<PubSubHub>(context, this,
                                          context->settings().pubsub->ForPool(pool->config.name))) {
  ApplyFlowLimits();
  servers_.reserve(pool->config.servers.size());
  for (size_t i = 0; i < pool->config.servers.size(); ++i) {
    servers_.push_back(std::make_unique<Server>(context, this, pool->config.servers[i],
                                                pool->server_addresses[i]));
  }
}

void ServerPool::ApplyFlowLimits() {
  flow_limits_ = context_->settings().flow;
  if (pool_->config.client_output_buffer_limit) {
    flow_limits_.output = *pool_->config.client_output_buffer_limit;
  }
  if (pool_->config.client_query_buffer_limit) {
    flow_limits_.query_buffer_bytes = *pool_->config.client_query_buffer_limit;
  }
}

std::vector<uint32_t> ServerPool::LiveServers() const {
  std::vector<uint32_t> live;
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (!servers_[i]->ejected()) live.push_back(static_cast<uint32_t>(i));
  }
  return live;
}

uint32_t ServerPool::AnyLiveServer() const {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (!servers_[i]->ejected()) return static_cast<uint32_t>(i);
  }
  return kNoServerYet;
}

InfoFigures ServerPool::GatherInfoFigures(int workers) const {
  InfoFigures figures;
  figures.pool = &config();
  figures.workers = workers;
  figures.uptime_s = clock::ProcessUptimeSeconds();
  context_->stats()->ForEach([&](const StatsRegistry::Entry& entry) {
    if (entry.pool != config().name || entry.pool_stats == nullptr) return;
    const PoolStats& stats = *entry.pool_stats;
    figures.connected_clients += stats.client_connections.Get();
    figures.blocked_clients += stats.blocked_clients.Get();
    figures.total_connections += stats.client_connections_total.Get();
    figures.rejected_connections += stats.client_rejected.Get();
    for (const Counter& requests : stats.requests) figures.total_commands += requests.Get();
    for (const auto& server : entry.servers) {
      figures.pinned_connections += server->pinned_connections.Get();
    }
  });
  const PubSubRegistry::Pool* counts = pubsub_->counts();
  figures.pubsub_channels = counts->Distinct(SubscriptionKind::kChannel);
  figures.pubsub_patterns = counts->Distinct(SubscriptionKind::kPattern);
  figures.pubsubshard_channels = counts->Distinct(SubscriptionKind::kShardChannel);
  uint64_t pages = 0;
  {
    std::ifstream statm("/proc/self/statm");
    uint64_t size = 0;
    if (!(statm >> size >> pages)) pages = 0;
  }
  figures.rss_bytes = pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  figures.peak_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  figures.cpu_user_s = static_cast<double>(usage.ru_utime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec) / 1e6;
  figures.cpu_system_s = static_cast<double>(usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_stime.tv_usec) / 1e6;
  figures.live_servers = LiveServers().size();
  return figures;
}

uint32_t ServerPool::IndexOf(const Server* server) const {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].get() == server) return static_cast<uint32_t>(i);
  }
  return kNoServerYet;
}

ServerPool::~ServerPool() = default;

bool ServerPool::AdmitClient() {
  ClientAdmission* admission = context_->admission();
  const ClientAdmission::Verdict verdict = admission->Admit(client_count_, config().max_clients);
  if (verdict == ClientAdmission::Verdict::kAdmitted) return true;
  stats_->client_rejected.Add();
  ++rejections_unlogged_;
  const uint64_t now_ms = context_->now_ms();
  if (now_ms >= next_rejection_log_ms_) {
    const bool pool_full = verdict == ClientAdmission::Verdict::kPoolFull;
    RP_LOG(kLogWarn, "worker %d: pool '%s': %s %lld reached; refused %llu client connection%s",
           context_->id(), config().name.c_str(), pool_full ? "max_clients" : "--max-clients",
           static_cast<long long>(pool_full ? config().max_clients : admission->process_limit()),
           static_cast<unsigned long long>(rejections_unlogged_),
           rejections_unlogged_ == 1 ? "" : "s since the last message");
    rejections_unlogged_ = 0;
    next_rejection_log_ms_ = now_ms + kRejectionLogIntervalMs;
  }
  return false;
}

void ServerPool::CountHandshakeTimeout() {
  stats_->client_handshake_timeouts.Add();
  stats_->client_err.Add();  // as any failed handshake
  uint64_t events = 0;
  if (handshake_timeout_log_.Count(context_->now_ms(), &events)) LogHandshakeTimeouts(events);
}

void ServerPool::LogHandshakeTimeouts(uint64_t events) {
  RP_LOG(kLogWarn,
         "worker %d: pool '%s': closed %llu client connection%s whose TLS handshake was not done "
         "%lld ms after the connection",
         context_->id(), config().name.c_str(), static_cast<unsigned long long>(events),
         events == 1 ? "" : "s", static_cast<long long>(config().tls.handshake_timeout_ms));
}

void ServerPool::ReleaseClient() { context_->admission()->Release(client_count_); }

void ServerPool::Reconcile(std::shared_ptr<const Topology> topology, const TopologyPool* pool) {
  std::vector<std::unique_ptr<Server>> next;
  next.reserve(pool->config.servers.size());
  for (size_t i = 0; i < pool->config.servers.size(); ++i) {
    const config::ServerConfig& config = pool->config.servers[i];
    auto it = std::find_if(servers_.begin(), servers_.end(), [&](const auto& server) {
      return server != nullptr && server->config().name == config.name;
    });
    if (it != servers_.end()) {
      (*it)->Update(config, pool->server_addresses[i]);
      next.push_back(std::move(*it));
    } else {
      next.push_back(std::make_unique<Server>(context_, this, config, pool->server_addresses[i]));
      if (pool->config.preconnect) next.back()->Preconnect();
    }
  }
  for (auto& server : servers_) {
    if (server == nullptr) continue;
    RP_LOG(kLogNotice, "server '%s' left pool '%s'", server->config().name.c_str(),
           pool->config.name.c_str());
    server->Retire();
    removed_.push_back(std::move(server));
  }
  servers_ = std::move(next);
  // Servers copy their config, so the old snapshot can go now.
  topology_ = std::move(topology);
  pool_ = pool;
  ApplyFlowLimits();
  RebuildPlacement();
}

void ServerPool::Preconnect() {
  for (auto& server : servers_) server->Preconnect();
}

void ServerPool::Tick(uint64_t now_ns) {
  // The tail of a burst of stalled handshakes is reported once its line is due.
  uint64_t events = 0;
  if (handshake_timeout_log_.Due(context_->now_ms(), &events)) LogHandshakeTimeouts(events);
  auth_failures_.Flush(context_->now_ms());
  bool changed = false;
  for (auto& server : servers_) changed |= server->Tick(now_ns);
  for (auto& server : removed_) server->Tick(now_ns);
  std::erase_if(removed_, [](const auto& server) { return server->Quiet(); });
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
  } else {
    ejected_placement_.emplace(BuildPlacement(pool_->config, live));
    placement_ = &*ejected_placement_;
  }
  pubsub_->OnPlacementChanged();
}

void ServerPool::CloseAll() {
  for (auto& server : servers_) server->CloseAll();
  for (auto& server : removed_) server->CloseAll();
}

bool ServerPool::Quiet() const {
  return std::all_of(servers_.begin(), servers_.end(),
                     [](const auto& server) { return server->Quiet(); }) &&
         std::all_of(removed_.begin(), removed_.end(),
                     [](const auto& server) { return server->Quiet(); });
}

}  // namespace ringproxy::proxy
